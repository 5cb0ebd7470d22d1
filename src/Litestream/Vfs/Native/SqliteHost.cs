using System.Runtime.InteropServices;

namespace Litestream.Vfs.Native;

/// <summary>
/// The few SQLite C API calls the VFS needs, from whichever SQLite it is registered with: the app's
/// bundled e_sqlite3 (<see cref="BundledSqliteHost"/>), or the host process's SQLite reached through the
/// loadable extension's <c>sqlite3_api</c> table (the C shim in src/Litestream.Vfs).
/// </summary>
internal abstract unsafe class SqliteHost
{
    /// <summary>sqlite3_vfs_find; null name = the default VFS.</summary>
    public abstract SqliteVfs* VfsFind(byte* name);

    /// <summary>sqlite3_vfs_register.</summary>
    public abstract int VfsRegister(SqliteVfs* vfs, bool makeDefault);

    /// <summary>sqlite3_uri_parameter on the file name SQLite passed to xOpen.</summary>
    public abstract byte* UriParameter(byte* filename, byte* parameter);

    /// <summary>sqlite3_malloc: memory SQLite frees (PRAGMA results).</summary>
    public abstract byte* Malloc(int size);

    /// <summary>sqlite3_log(code, "%s", message).</summary>
    public abstract void Log(int code, string message);
}

/// <summary>The SQLite an app already uses through SQLitePCLRaw's <c>e_sqlite3</c> (bundled or linked in).</summary>
internal sealed unsafe partial class BundledSqliteHost : SqliteHost
{
    public override SqliteVfs* VfsFind(byte* name) => sqlite3_vfs_find(name);

    public override int VfsRegister(SqliteVfs* vfs, bool makeDefault) => sqlite3_vfs_register(vfs, makeDefault ? 1 : 0);

    public override byte* UriParameter(byte* filename, byte* parameter) => sqlite3_uri_parameter(filename, parameter);

    public override byte* Malloc(int size) => sqlite3_malloc(size);

    public override void Log(int code, string message) => sqlite3_log(code, "%s", message);

    [LibraryImport("e_sqlite3")]
    private static partial SqliteVfs* sqlite3_vfs_find(byte* name);

    [LibraryImport("e_sqlite3")]
    private static partial int sqlite3_vfs_register(SqliteVfs* vfs, int makeDefault);

    [LibraryImport("e_sqlite3")]
    private static partial byte* sqlite3_uri_parameter(byte* filename, byte* parameter);

    [LibraryImport("e_sqlite3")]
    private static partial byte* sqlite3_malloc(int size);

    // Variadic in C; one pointer argument passes the same way on x64 and arm64 Linux.
    [LibraryImport("e_sqlite3", StringMarshalling = StringMarshalling.Utf8)]
    private static partial void sqlite3_log(int code, string format, string message);
}
