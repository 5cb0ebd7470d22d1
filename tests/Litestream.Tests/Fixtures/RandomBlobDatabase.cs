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
    /// <summary>Writes <paramref name="rows"/> blobs from a generator seeded with <paramref name="seed"/> into a new database at <paramref name="path"/>.</summary>
    public static void Create(string path, int rows, int seed, int pageSize = 4096)
        => SqliteWriter.Write(path, new Workload { Commits = 1, Batch = rows.ToString(System.Globalization.CultureInfo.InvariantCulture), Sizes = "3000", Seed = seed, PageSize = pageSize });

    /// <summary>"ok", the row count and a SHA-256 of every row: equal for equal contents.</summary>
    public static string Dump(string path) => SqliteWriter.Dump(path);

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
