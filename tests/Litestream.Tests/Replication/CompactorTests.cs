using Litestream.Ltx;
using Litestream.Replication;
using Litestream.Restore;
using Litestream.Storage.File;
using Litestream.Tests.Fixtures;

namespace Litestream.Tests.Replication;

/// <summary>
/// Compaction levels, level-9 snapshots and retention on a real replica; every TXID restores to the
/// exact state the writer recorded for it, before and after retention ran.
/// </summary>
public class CompactorTests
{
    private const string Writer = """
        import sqlite3, sys
        c = sqlite3.connect(sys.argv[1], isolation_level=None)
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v TEXT)")
        b = int(sys.argv[2])
        for i in range(40):
            c.execute("INSERT INTO t(v) VALUES (?)", ("batch%d-%d" % (b, i) + "y" * (i * 37 % 900),))
        if b % 4 == 3:
            c.execute("DELETE FROM t WHERE id % 5 = 0")
        """;

    private const string Dump = """
        import sqlite3, sys, hashlib
        c = sqlite3.connect(sys.argv[1])
        rows = c.execute("SELECT id, v FROM t ORDER BY id").fetchall()
        print(c.execute("PRAGMA integrity_check").fetchone()[0], len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
        """;

    [Fact]
    public async Task Compaction_SnapshotsAndRetention_EveryTxidRestoresExactly()
    {
        string dir = TestPaths.TempDir();
        string path = Path.Combine(dir, "app.db");
        var client = new FileReplicaClient(Path.Combine(dir, "replica"));
        var states = new Dictionary<ulong, string>();
        var options = new CompactionOptions { SnapshotRetention = TimeSpan.FromHours(1), L0Retention = TimeSpan.FromMinutes(1) };
        TestPaths.Python(Writer, path, "0");
        await using (var db = new Db(path))
        {
            db.Open();
            var replica = new Replica(db, client);
            var compactor = new Compactor(replica, options);
            for (int batch = 1; batch <= 12; batch++)
            {
                db.Sync();
                await replica.SyncAsync(default);
                states[db.Txid.Value] = TestPaths.Python(Dump, path);
                if (batch % 3 == 0)
                {
                    Assert.NotNull(await compactor.CompactAsync(1, default));
                }
                if (batch % 6 == 0)
                {
                    Assert.NotNull(await compactor.CompactAsync(2, default));
                }
                if (batch is 5 or 10)
                {
                    LtxFileInfo snapshot = (await compactor.SnapshotAsync(default))!;
                    Assert.Equal((new Txid(1), db.Txid), (snapshot.MinTxid, snapshot.MaxTxid));
                }
                TestPaths.Python(Writer, path, batch.ToString());
            }
            db.Sync();
            await replica.SyncAsync(default);
            states[db.Txid.Value] = TestPaths.Python(Dump, path);
            Assert.Null(await compactor.CompactAsync(2, default)); // nothing new in L1 since the last L2
        }

        async Task AssertRestores(IEnumerable<ulong> txids)
        {
            foreach (ulong txid in txids)
            {
                string output = Path.Combine(dir, $"r-{txid}-{Guid.NewGuid():N}.db");
                await Restorer.RestoreAsync(client, new RestoreOptions { OutputPath = output, Txid = new Txid(txid) }, default);
                Assert.Equal(states[txid], TestPaths.Python(Dump, output));
            }
        }

        Assert.Equal(13, states.Count);
        await AssertRestores(states.Keys);
        IReadOnlyList<LtxFileInfo> latestPlan = await RestorePlanner.PlanAsync(client, Txid.Zero, null, default);
        Assert.Equal(LtxConstants.SnapshotLevel, latestPlan[0].Level); // starts from the newest snapshot, not from L0 1

        // Retention an hour later: the first snapshot and everything it makes unnecessary go.
        var later = new Compactor(new Replica(new Db(path), client), options);
        int deleted = await later.EnforceSnapshotRetentionAsync(DateTimeOffset.UtcNow.AddHours(2), default);
        Assert.True(deleted > 1, $"deleted {deleted}");
        int l0Deleted = await later.EnforceL0RetentionAsync(DateTimeOffset.UtcNow.AddHours(2), default);
        var snapshots = new List<LtxFileInfo>();
        await foreach (LtxFileInfo s in client.ListLtxFilesAsync(LtxConstants.SnapshotLevel, Txid.Zero, false, default))
        {
            snapshots.Add(s);
        }
        LtxFileInfo kept = Assert.Single(snapshots);
        // After retention a TXID is restorable where some remaining file ends (compaction merged the rest).
        var boundaries = new HashSet<ulong>();
        for (int level = 0; level <= LtxConstants.SnapshotLevel; level++)
        {
            await foreach (LtxFileInfo f in client.ListLtxFilesAsync(level, Txid.Zero, false, default))
            {
                boundaries.Add(f.MaxTxid.Value);
            }
        }
        Assert.Contains(kept.MaxTxid.Value, boundaries);
        await AssertRestores(boundaries.Where(t => t >= kept.MaxTxid.Value));
        string latest = Path.Combine(dir, "latest.db");
        await Restorer.RestoreAsync(client, new RestoreOptions { OutputPath = latest }, default);
        Assert.Equal(states[states.Keys.Max()], TestPaths.Python(Dump, latest));
        Assert.True(l0Deleted >= 0);
    }
}
