using Litestream.Ltx;
using Litestream.Replication;
using Litestream.Restore;
using Litestream.Storage.File;

namespace Litestream.Tests.Replication;

/// <summary>
/// An idle database lets its SQLite connections go (<see cref="DbOptions.IdleConnectionTimeout"/>) and loses no commit:
/// writes and checkpoints by another process (python3) while no connection and no read transaction is held are found on
/// the next look, and a restore equals the source.
/// </summary>
[Requires(Need.Python)]
public class IdleConnectionTests
{
    private static readonly DbOptions s_idleSoon = new() { IdleConnectionTimeout = TimeSpan.FromMilliseconds(200) };

    private static void Write(string db, int start, int commits) => SqliteWriter.Write(db, new Workload { Start = start, Commits = commits, Pad = 300 });

    /// <summary>Looks at the database until the quiet period let its connections go.</summary>
    private static Task IdleAsync(Db db) => Wait.UntilAsync(() => !db.Sync() && db.ConnectionCount == 0, "the idle database to close its connections");

    private static async Task AssertRestoresEqual(FileReplicaClient client, string path, string dir)
    {
        string output = Path.Combine(dir, $"restored-{Guid.NewGuid():N}.db");
        await Restorer.RestoreAsync(client, new RestoreOptions { OutputPath = output, IntegrityCheck = IntegrityCheck.Full }, default);
        string expected = SqliteWriter.Dump(path);
        Assert.StartsWith("ok ", expected);
        Assert.Equal(expected, SqliteWriter.Dump(output));
    }

    [RequiresFact]
    public async Task Sync_QuietPeriodPassed_HoldsNoConnection_AndWritesAfterwardAreCapturedAsDeltas()
    {
        string dir = TestRepo.TempDir();
        string path = Path.Combine(dir, "app.db");
        Write(path, 0, 20);
        var client = new FileReplicaClient(Path.Combine(dir, "replica"));
        await using var db = new Db(path, s_idleSoon);
        db.Open();
        var replica = new Replica(db, client);
        await replica.ReconcileAsync(default);
        Assert.True(db.Sync());
        Assert.Equal(2, db.ConnectionCount);

        await IdleAsync(db);
        Assert.True(db.IsOpen);
        Assert.False(db.Sync()); // nothing new: it stays closed
        Assert.Equal(0, db.ConnectionCount);

        Txid idleAt = db.Txid;
        Write(path, 20, 15);
        // The writer's close found no EXCLUSIVE lock (SqliteSharedLock): the WAL and its frames are still there.
        Assert.True(File.Exists(db.WalPath));
        Assert.True(db.Sync());
        Assert.Equal(2, db.ConnectionCount);
        Assert.Equal(new Txid(idleAt.Value + 1), db.Txid);
        AssertContinues(db, idleAt); // a delta continuing the position, not a snapshot
        await replica.SyncAsync(default);
        await AssertRestoresEqual(client, path, dir);
    }

    [RequiresFact]
    public async Task Sync_QuietPeriodPassed_TheCHeapIsTrimmedAfterTheRelease()
    {
        // What the two connections freed would otherwise stay resident in glibc's arenas (HeapTrim).
        string dir = TestRepo.TempDir();
        string path = Path.Combine(dir, "app.db");
        Write(path, 0, 3);
        await using var db = new Db(path, s_idleSoon);
        db.Open();
        Assert.True(db.Sync());
        Assert.Equal(2, db.ConnectionCount);
        int before = HeapTrim.TrimCount;
        await IdleAsync(db);
        await Wait.UntilAsync(() => HeapTrim.TrimCount > before, "the trim after the release");
    }

    /// <summary>The L0 file after <paramref name="previous"/> starts where it ended in the same WAL generation.</summary>
    private static void AssertContinues(Db db, Txid previous)
    {
        LtxHeader before = ReadHeader(db.L0FilePath(previous));
        LtxHeader after = ReadHeader(db.L0FilePath(new Txid(previous.Value + 1)));
        Assert.Equal((before.WalSalt1, before.WalSalt2, before.WalOffset + before.WalSize), (after.WalSalt1, after.WalSalt2, after.WalOffset));
    }

    private static LtxHeader ReadHeader(string path)
    {
        using var decoder = new LtxDecoder(File.OpenRead(path), leaveOpen: false) { KeepPageIndex = false };
        return decoder.DecodeHeader();
    }

    [RequiresTheory]
    [InlineData("TRUNCATE", 1)]
    [InlineData("TRUNCATE", 7)]
    [InlineData("RESTART", 1)]
    [InlineData("RESTART", 7)]
    public async Task Sync_AnotherProcessCheckpointsAndRestartsTheWalWhileIdle_NextCaptureDetectsIt_RestoreEqualsSource(string mode, int uncaptured)
    {
        // Without our read transaction another process may checkpoint everything and restart the WAL; with
        // `uncaptured` commits made first, those commits are in the database file only (TRUNCATE) or in the old
        // generation's tail (RESTART, the new generation being shorter). Either the chain continues provably or a
        // snapshot is written: the restore is the source either way.
        string dir = TestRepo.TempDir();
        string path = Path.Combine(dir, "app.db");
        Write(path, 0, 40);
        var client = new FileReplicaClient(Path.Combine(dir, "replica"));
        await using var db = new Db(path, s_idleSoon);
        db.Open();
        var replica = new Replica(db, client);
        await replica.ReconcileAsync(default);
        Assert.True(db.Sync());
        await replica.SyncAsync(default);
        await IdleAsync(db);
        LtxHeader idle = db.Position!.Value;

        Assert.Equal("0", SqliteWriter.Scalar(path, "PRAGMA wal_checkpoint(RESTART)")); // not busy: no reader of ours pins the WAL
        // The writer commits, another of its connections checkpoints, and its next commit restarts the WAL. (A checkpoint
        // by a process of its own, as above, does not: the next first connection recovers the WAL index, which forgets
        // what was copied, and appends to the same generation.)
        SqliteWriter.Write(path, new Workload { Start = 40, Commits = uncaptured + 5, Pad = 300, Checkpoint = mode, CheckpointAfter = uncaptured });

        Assert.True(db.Sync());
        LtxHeader next = db.Position!.Value;
        Assert.NotEqual((idle.WalSalt1, idle.WalSalt2), (next.WalSalt1, next.WalSalt2)); // the restart was seen
        Assert.True(next.MaxTxid > idle.MaxTxid);
        await replica.SyncAsync(default);
        await AssertRestoresEqual(client, path, dir);

        // And it goes on: more writes, captured and restorable.
        Write(path, 45 + uncaptured, 5);
        db.Sync();
        await replica.SyncAsync(default);
        await AssertRestoresEqual(client, path, dir);
    }

    [RequiresFact]
    public async Task Store_IdleDatabases_HoldNoConnections_AndAWriteWakesOneUp()
    {
        string dir = TestRepo.TempDir();
        var client = new FileReplicaClient(Path.Combine(dir, "replica"));
        var options = StoreTests.s_fastDb with { IdleConnectionTimeout = TimeSpan.FromMilliseconds(300) };
        string[] paths = [.. Enumerable.Range(0, 3).Select(i => Path.Combine(dir, $"t{i}.db"))];
        foreach (string path in paths)
        {
            Write(path, 0, 3);
        }
        Db[] dbs = [.. paths.Select(p => new Db(p, options))];
        FileReplicaClient[] clients = [.. paths.Select(p => new FileReplicaClient(Path.Combine(dir, "replica", Path.GetFileName(p))))];
        var store = new Store(dbs.Select((d, i) => new Replica(d, clients[i], StoreTests.s_fastReplica)));
        using var stop = new CancellationTokenSource();
        Task run = store.RunAsync(stop.Token);
        await Wait.UntilAsync(() => dbs.All(d => d.Txid.Value > 0 && d.ConnectionCount == 0), "every database to go idle");

        Write(paths[1], 3, 10);
        await Wait.UntilAsync(() => dbs[1].Replicas[0].RemoteTxid is { } remote && remote > new Txid(1) && remote == dbs[1].Txid, "the write to reach the replica");
        Assert.Equal(0, dbs[0].ConnectionCount + dbs[2].ConnectionCount);
        await Wait.UntilAsync(() => dbs[1].ConnectionCount == 0, "the written database to go idle again");
        await stop.CancelAsync();
        await run;

        Assert.Equal(0, store.ErrorCount);
        for (int i = 0; i < paths.Length; i++)
        {
            await AssertRestoresEqual(clients[i], paths[i], dir);
        }
    }
}
