using Litestream.Ltx;
using Litestream.Replication;
using Litestream.Storage;

namespace Litestream.Tests.Fixtures;

/// <summary>
/// A database of random 3000-byte blobs (incompressible, so its LTX snapshot is about its size), written by
/// python3's sqlite3, replicated once as a single L0 snapshot, and compared by a digest of its rows.
/// </summary>
internal static class RandomBlobDatabase
{
    private const string Writer = """
        import sqlite3, sys, random
        rnd = random.Random(int(sys.argv[3]))
        c = sqlite3.connect(sys.argv[1], isolation_level=None)
        c.execute(f"PRAGMA page_size={sys.argv[4]}")
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)")
        c.execute("BEGIN")
        for i in range(int(sys.argv[2])):
            c.execute("INSERT INTO t(v) VALUES (?)", (rnd.randbytes(3000),))
        c.execute("COMMIT")
        """;

    private const string DumpScript = """
        import sqlite3, sys, hashlib
        c = sqlite3.connect(sys.argv[1])
        rows = c.execute("SELECT id, v FROM t ORDER BY id").fetchall()
        print(c.execute("PRAGMA integrity_check").fetchone()[0], len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
        """;

    /// <summary>Writes <paramref name="rows"/> blobs from a generator seeded with <paramref name="seed"/> into a new database at <paramref name="path"/>.</summary>
    public static void Create(string path, int rows, int seed, int pageSize = 4096)
        => TestPaths.Python(Writer, path, rows.ToString(System.Globalization.CultureInfo.InvariantCulture),
            seed.ToString(System.Globalization.CultureInfo.InvariantCulture), pageSize.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>"ok", the row count and a SHA-256 of every row: equal for equal contents.</summary>
    public static string Dump(string path) => TestPaths.Python(DumpScript, path);

    /// <summary>Syncs the database once to <paramref name="client"/> and returns the one L0 file (the snapshot) it wrote.</summary>
    public static async Task<LtxFileInfo> ReplicateOnceAsync(string path, IReplicaClient client)
    {
        await using (var db = new Db(path))
        {
            db.Open();
            db.Sync();
            await new Replica(db, client).SyncAsync(default);
        }
        var files = new List<LtxFileInfo>();
        await foreach (LtxFileInfo info in client.ListLtxFilesAsync(0, Txid.Zero, false, default))
        {
            files.Add(info);
        }
        return Assert.Single(files);
    }
}
