using System.Runtime.InteropServices;
using Litestream.Vfs.Native;

namespace Litestream.Vfs;

/// <summary>The loadable extension's entry points (<c>.load litestream-vfs</c> / <c>load_extension</c>).</summary>
internal static unsafe class Extension
{
    private const int SqliteOkLoadPermanently = 256;

    [UnmanagedCallersOnly(EntryPoint = "sqlite3_extension_init")]
    private static int Init(IntPtr db, byte** errorMessage, IntPtr api) => Load(db, api);

    /// <summary>The name SQLite derives from the file name litestream-vfs.so when no entry point is given.</summary>
    [UnmanagedCallersOnly(EntryPoint = "sqlite3_litestreamvfs_init")]
    private static int InitByFileName(IntPtr db, byte** errorMessage, IntPtr api) => Load(db, api);

    private static int Load(IntPtr db, IntPtr api)
    {
        try
        {
            int rc = ExtensionSqliteHost.Init(db, api);
            if (rc == 0)
            {
                rc = NativeVfs.Register(new ExtensionSqliteHost(), LitestreamVfs.VfsName);
            }
            // Stay loaded after this connection closes: the VFS outlives it.
            return rc == 0 ? SqliteOkLoadPermanently : rc;
        }
        catch (Exception e)
        {
            VfsLog.Write(VfsLog.Level.Error, $"load: {e.Message}");
            return 1;
        }
    }
}

/// <summary>The host process's SQLite, through the C shim's copy of its <c>sqlite3_api</c> table.</summary>
internal sealed unsafe partial class ExtensionSqliteHost : SqliteHost
{
    private const string Shim = "litestream_vfs_shim";

    public static int Init(IntPtr db, IntPtr api) => lsvfs_init(db, api);

    public override SqliteVfs* VfsFind(byte* name) => lsvfs_vfs_find(name);

    public override int VfsRegister(SqliteVfs* vfs, bool makeDefault) => lsvfs_vfs_register(vfs, makeDefault ? 1 : 0);

    public override byte* UriParameter(byte* filename, byte* parameter) => lsvfs_uri_parameter(filename, parameter);

    public override byte* Malloc(int size) => lsvfs_malloc(size);

    public override void Log(int code, string message) => lsvfs_log(code, message);

    [LibraryImport(Shim)]
    private static partial int lsvfs_init(IntPtr db, IntPtr api);

    [LibraryImport(Shim)]
    private static partial SqliteVfs* lsvfs_vfs_find(byte* name);

    [LibraryImport(Shim)]
    private static partial int lsvfs_vfs_register(SqliteVfs* vfs, int makeDefault);

    [LibraryImport(Shim)]
    private static partial byte* lsvfs_uri_parameter(byte* filename, byte* parameter);

    [LibraryImport(Shim)]
    private static partial byte* lsvfs_malloc(int size);

    [LibraryImport(Shim, StringMarshalling = StringMarshalling.Utf8)]
    private static partial void lsvfs_log(int code, string message);
}
