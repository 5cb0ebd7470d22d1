using Litestream.Ltx;
using Litestream.Replication;
using Litestream.Restore;
using Litestream.Storage.File;
using Litestream.Tests.Fixtures;

namespace Litestream.Tests.Restore;

/// <summary>
/// Point-in-time restore by timestamp: the writer's state is recorded after every synced transaction
/// batch together with the time its L0 file was created; restoring to a time between two files gives
/// exactly the state of the last file created strictly before it, across L0, L1 and a snapshot.
/// </summary>
public class PointInTimeTests
{
    private const string Writer = """
        import sqlite3, sys
        c = sqlite3.connect(sys.argv[1], isolation_level=None)
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v TEXT)")
        for i in range(25):
            c.execute("INSERT INTO t(v) VALUES (?)", ("ts%s-%d" % (sys.argv[2], i),))
        """;

    private const string Dump = """
        import sqlite3, sys, hashlib
        c = sqlite3.connect(sys.argv[1])
        rows = c.execute("SELECT id, v FROM t ORDER BY id").fetchall()
        print(len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
        """;

    [Fact]
    public async Task Restore_ToTimestampsBetweenFiles_GivesStateOfLastFileBefore()
    {
        string dir = TestPaths.TempDir();
        string path = Path.Combine(dir, "app.db");
        var client = new FileReplicaClient(Path.Combine(dir, "replica"));
        var states = new List<(DateTimeOffset CreatedAt, string Dump)>();
        TestPaths.Python(Writer, path, "0");
        await using (var db = new Db(path))
        {
            db.Open();
            var replica = new Replica(db, client);
            var compactor = new Compactor(replica);
            for (int batch = 1; batch <= 8; batch++)
            {
                db.Sync();
                await replica.SyncAsync(default);
                LtxFileInfo file = await Newest(client, 0);
                states.Add((file.CreatedAt, TestPaths.Python(Dump, path)));
                if (batch == 4)
                {
                    await compactor.CompactAsync(1, default);
                }
                if (batch == 6)
                {
                    await compactor.SnapshotAsync(default);
                }
                await Task.Delay(30);
                TestPaths.Python(Writer, path, batch.ToString());
            }
        }
        for (int i = 0; i < states.Count; i++)
        {
            DateTimeOffset target = states[i].CreatedAt.AddMilliseconds(1);
            string output = Path.Combine(dir, $"pitr-{i}.db");
            await Restorer.RestoreAsync(client, new RestoreOptions { OutputPath = output, Timestamp = target }, default);
            Assert.Equal(states[i].Dump, TestPaths.Python(Dump, output));
        }
        await Assert.ThrowsAsync<TxNotAvailableException>(async () => await Restorer.RestoreAsync(client,
            new RestoreOptions { OutputPath = Path.Combine(dir, "too-early.db"), Timestamp = states[0].CreatedAt.AddSeconds(-10) }, default));
    }

    private static async Task<LtxFileInfo> Newest(FileReplicaClient client, int level)
    {
        LtxFileInfo? newest = null;
        await foreach (LtxFileInfo f in client.ListLtxFilesAsync(level, Txid.Zero, false, default))
        {
            newest = f;
        }
        return newest!;
    }
}
