using System.Runtime.InteropServices;

namespace Litestream.Internal;

/// <summary>SQLite entry points SQLitePCLRaw does not expose. Bound to the same "e_sqlite3" library
/// (statically linked into the exe through DirectPInvoke; the bundle's shared library elsewhere).</summary>
internal static partial class SqliteNative
{
    [LibraryImport("e_sqlite3", EntryPoint = "sqlite3_file_control", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int FileControlNative(IntPtr db, string dbName, int op, ref int arg);

    private const int SqliteConfigPageCache = 7;

    private static int s_pageCacheConfigured;

    [LibraryImport("e_sqlite3", EntryPoint = "sqlite3_config")]
    private static partial int ConfigNative(int op, IntPtr memory, int size, int count);

    /// <summary>
    /// Once per process, before SQLite initializes: no page-cache bulk allocation when a connection reads its first
    /// page (<c>SQLITE_CONFIG_PAGECACHE</c> with no buffer and no count; the default takes 20 pages, ~88 KB at 4 KB
    /// pages, per connection up front). A thousand databases open two connections each at start-up, and ours read a
    /// handful of pages. Pages are then allocated one by one as any connection needs them. Returns the SQLite result
    /// code the first time (<c>SQLITE_MISUSE</c> when the process had already used SQLite: then nothing changes), 0 after.
    /// </summary>
    public static int NoPageCacheBulk()
        => Interlocked.Exchange(ref s_pageCacheConfigured, 1) == 0 ? ConfigNative(SqliteConfigPageCache, IntPtr.Zero, 0, 0) : 0;

    /// <summary>sqlite3_file_control with an int argument; returns the SQLite result code.</summary>
    public static int FileControl(IntPtr db, string dbName, int op, ref int arg) => FileControlNative(db, dbName, op, ref arg);
}
