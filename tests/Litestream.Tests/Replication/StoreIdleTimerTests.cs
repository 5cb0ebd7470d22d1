using Litestream.Replication;
using Litestream.Storage.File;
using Microsoft.Data.Sqlite;

namespace Litestream.Tests.Replication;

/// <summary>
/// Issue 21 item 3: the timers of idle databases live in the store's one scheduler. With compaction on (three levels,
/// snapshots, L0 retention) and validation, a store of many idle databases holds no more timers than a store of a few;
/// only its scheduler's heap grows.
/// </summary>
[Collection(RunsAloneCollection.Name)]
public sealed class StoreIdleTimerTests
{
    private static readonly DbOptions s_options = new() { MonitorInterval = TimeSpan.FromMilliseconds(100), IdleConnectionTimeout = TimeSpan.FromMilliseconds(300) };

    private static readonly ReplicaOptions s_replica = new() { SyncInterval = TimeSpan.FromMilliseconds(100), ValidationInterval = TimeSpan.FromHours(1) };

    private static void Create(string path)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        connection.Open();
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode=wal; CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t(v) VALUES ('first');";
        command.ExecuteNonQuery();
    }

    /// <summary>Runs a store of <paramref name="count"/> databases until each is replicated and idle; returns the process's active timers and the scheduler's entries then.</summary>
    private static async Task<(long Timers, int Scheduled)> IdleStoreAsync(int count)
    {
        string dir = TestRepo.TempDir();
        Replica[] replicas = [.. Enumerable.Range(0, count).Select(i =>
        {
            string path = Path.Combine(dir, $"tenant{i:D3}.db");
            Create(path);
            return new Replica(new Db(path, s_options), new FileReplicaClient(Path.Combine(dir, "replica", $"tenant{i:D3}")), s_replica);
        })];
        var store = new Store(replicas, compaction: new CompactionOptions());
        using var stop = new CancellationTokenSource();
        Task run = store.RunAsync(stop.Token);
        try
        {
            await Wait.UntilAsync(() => replicas.All(r => r.RemoteTxid is { } txid && txid == r.Db.Txid && r.Db.ConnectionCount == 0),
                "every database replicated and idle", TimeSpan.FromMinutes(3));
            return (Timer.ActiveCount, store.ScheduledCount);
        }
        finally
        {
            await stop.CancelAsync();
            await run;
            Assert.Equal(0, store.ErrorCount);
        }
    }

    [Fact]
    public async Task Store_TenTimesTheIdleDatabases_SameTimers_OnlyTheSchedulerGrows()
    {
        long baseline = Timer.ActiveCount;
        (long fewTimers, int fewScheduled) = await IdleStoreAsync(5);
        (long manyTimers, int manyScheduled) = await IdleStoreAsync(50);

        // Per database: its monitor, three levels, the snapshot, L0 retention and validation wait in the heap (less the
        // few running at the moment it is read: a monitor pass, a compaction tick).
        Assert.InRange(fewScheduled, (5 * 7) - 5, 5 * 7);
        Assert.InRange(manyScheduled, (50 * 7) - 10, 50 * 7);
        // Before, each of those was a timer of its own (350 for the 50). Now the 45 more databases add none; a timer or
        // two of this process's other work may come and go meanwhile.
        Assert.InRange(manyTimers - fewTimers, -3, 3);
        Assert.InRange(fewTimers - baseline, 0, 5);
    }
}
