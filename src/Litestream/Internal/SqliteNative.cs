using System.Runtime.InteropServices;

namespace Litestream.Internal;

/// <summary>SQLite entry points SQLitePCLRaw does not expose. Bound to the same "e_sqlite3" library
/// (statically linked into the exe through DirectPInvoke; the bundle's shared library elsewhere).</summary>
internal static partial class SqliteNative
{
    [LibraryImport("e_sqlite3", EntryPoint = "sqlite3_file_control", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int FileControlNative(IntPtr db, string dbName, int op, ref int arg);

    /// <summary>sqlite3_file_control with an int argument; returns the SQLite result code.</summary>
    public static int FileControl(IntPtr db, string dbName, int op, ref int arg) => FileControlNative(db, dbName, op, ref arg);
}
