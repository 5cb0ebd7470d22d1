using Litestream.Ltx;
using Litestream.Replication;
using Litestream.Storage.File;

namespace Litestream.Tests.Replication;

/// <summary>Databases joining and leaving a running <see cref="Store"/> (upstream RegisterDB/UnregisterDB) against file replicas.</summary>
[Requires(Need.Python)]
public class StoreMembershipTests
{
    private static readonly DbOptions s_fastDb = StoreTests.s_fastDb;

    private static readonly ReplicaOptions s_fastReplica = StoreTests.s_fastReplica;

    private static Task<string> RestoreDump(FileReplicaClient client, string dir) => StoreTests.RestoreDump(client, dir);

    private static (string Path, FileReplicaClient Client, Replica Replica) Database(string dir, string name, int rows)
    {
        string path = Path.Combine(dir, name);
        SqliteWriter.Write(path, new Workload { Commits = rows, Pad = 100 });
        var client = new FileReplicaClient(Path.Combine(dir, "replica", name));
        return (path, client, new Replica(new Db(path, s_fastDb), client, s_fastReplica));
    }

    private static void Write(string db, int rows) => SqliteWriter.Write(db, new Workload { Commits = rows, Pad = 100 });

    [RequiresFact]
    public async Task RegisterAsync_WhileRunning_ReplicatesIt_UnregisterAsync_ShipsTheRestAndTheOthersRunOn()
    {
        string dir = TestRepo.TempDir();
        var a = Database(dir, "a.db", rows: 5);
        var b = Database(dir, "b.db", rows: 7);
        var store = new Store([a.Replica]);
        using var stop = new CancellationTokenSource();
        Task run = store.RunAsync(stop.Token);

        Assert.True(await store.RegisterAsync(b.Replica));
        Assert.False(await store.RegisterAsync(new Replica(new Db(b.Path, s_fastDb), b.Client, s_fastReplica)));
        Assert.Equal([a.Path, b.Path], store.Replicas.Select(r => r.Db.Path));
        await Wait.UntilAsync(() => File.Exists(b.Client.LtxFilePath(0, new Txid(1), new Txid(1))), "the registered database's first L0 file in its replica");

        Write(b.Path, 20); // committed just before it leaves: the final sync must ship it
        Assert.True(await store.UnregisterAsync(b.Path));
        Assert.False(await store.UnregisterAsync(b.Path));
        Assert.Equal([a.Path], store.Replicas.Select(r => r.Db.Path));
        Assert.False(b.Replica.Db.IsOpen);
        string bExpected = SqliteWriter.Dump(b.Path);
        Assert.StartsWith("ok 27 ", bExpected);
        Assert.Equal(bExpected, await RestoreDump(b.Client, dir));

        Write(a.Path, 9); // the database that stayed keeps replicating
        await stop.CancelAsync();
        await run;
        Assert.Equal(0, store.ErrorCount);
        string aExpected = SqliteWriter.Dump(a.Path);
        Assert.StartsWith("ok 14 ", aExpected);
        Assert.Equal(aExpected, await RestoreDump(a.Client, dir));
    }

    [RequiresFact]
    public async Task DatabaseAnotherStoreReplicates_StopsOnItsOwnReported_RegisterAsyncOfItThrowsLocked_OthersRunOn()
    {
        string dir = TestRepo.TempDir();
        var a = Database(dir, "a.db", rows: 3);
        var b = Database(dir, "b.db", rows: 3);
        var owner = new Store([new Replica(new Db(b.Path, s_fastDb), new FileReplicaClient(Path.Combine(dir, "other")), s_fastReplica)]);
        using var stopOwner = new CancellationTokenSource();
        Task ownerRun = owner.RunAsync(stopOwner.Token);
        await Wait.UntilAsync(() => File.Exists(Path.Combine(dir, "other", "ltx", "0", "0000000000000001-0000000000000001.ltx")), "the owning store to replicate b.db");

        // In the store from the start: it stops on its own, leaves the store and is reported once.
        var store = new Store([a.Replica, b.Replica]);
        var stopped = new List<DatabaseStoppedEventArgs>();
        store.DatabaseStopped += (_, e) =>
        {
            lock (stopped)
            {
                stopped.Add(e);
            }
        };
        using var stop = new CancellationTokenSource();
        Task run = store.RunAsync(stop.Token);
        // The store drops b.db from Replicas, then raises DatabaseStopped: wait for both.
        await Wait.UntilAsync(() =>
        {
            lock (stopped)
            {
                return store.Replicas.Count == 1 && stopped.Count == 1;
            }
        }, "b.db to leave the store and be reported");
        Assert.Equal([a.Path], store.Replicas.Select(r => r.Db.Path));
        DatabaseStoppedEventArgs only = Assert.Single(stopped);
        Assert.Same(b.Replica, only.Replica);
        Assert.IsType<DatabaseLockedException>(only.Reason);

        // Registered while running: refused to the caller, not added, not reported again.
        await Assert.ThrowsAsync<DatabaseLockedException>(() => store.RegisterAsync(new Replica(new Db(b.Path, s_fastDb), b.Client, s_fastReplica)));
        Assert.Equal([a.Path], store.Replicas.Select(r => r.Db.Path));
        Assert.Single(stopped);

        Write(a.Path, 4);
        await stop.CancelAsync();
        // RunAsync reports the database that stopped on its own, after the others' final sync.
        await Assert.ThrowsAsync<DatabaseLockedException>(() => run);
        Assert.Equal(SqliteWriter.Dump(a.Path), await RestoreDump(a.Client, dir));
        await stopOwner.CancelAsync();
        await ownerRun;
    }

    [RequiresFact]
    public async Task RegisterAsync_BeforeTheStoreRuns_StartsWithIt()
    {
        string dir = TestRepo.TempDir();
        var a = Database(dir, "a.db", rows: 4);
        var store = new Store([]);
        Assert.True(await store.RegisterAsync(a.Replica));
        using var stop = new CancellationTokenSource();
        Task run = store.RunAsync(stop.Token);
        await Wait.UntilAsync(() => File.Exists(a.Client.LtxFilePath(0, new Txid(1), new Txid(1))), "the first L0 file in the replica");
        await stop.CancelAsync();
        await run;
        Assert.Equal(SqliteWriter.Dump(a.Path), await RestoreDump(a.Client, dir));
    }
}
