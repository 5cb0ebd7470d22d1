using Litestream.Events;
using Litestream.Ltx;
using Litestream.Replication;
using Litestream.Storage.File;

namespace Litestream.Tests.Replication;

/// <summary><see cref="Store.SubscribeEvents"/>: tx for confirmed uploads, in order, and a subscriber that does not read is dropped, never waited for.</summary>
[Requires(Need.Python)]
public class StoreEventsTests
{
    [RequiresFact]
    public async Task SubscribeEvents_TxForEveryUploadedTransaction_MatchesTheReplicaFiles()
    {
        string dir = TestRepo.TempDir();
        string path = Path.Combine(dir, "app.db");
        SqliteWriter.Write(path, 3);
        var client = new FileReplicaClient(Path.Combine(dir, "replica"));
        var store = new Store([new Replica(new Db(path, StoreTests.s_fastDb), client, StoreTests.s_fastReplica)]);
        using ReplicationEventSubscription events = store.SubscribeEvents();
        using var stop = new CancellationTokenSource();
        Task run = store.RunAsync(stop.Token);
        for (int i = 0; i < 3; i++)
        {
            // Separate writer processes, each waited for on the replica: one L0 file (one TXID) each.
            await Wait.UntilAsync(() => File.Exists(client.LtxFilePath(0, new Txid((ulong)i + 1), new Txid((ulong)i + 1))), $"txid {i + 1} on the replica");
            SqliteWriter.Write(path, 2, start: 3 + (2 * i));
        }
        await Wait.UntilAsync(() => File.Exists(client.LtxFilePath(0, new Txid(4), new Txid(4))), "txid 4 on the replica");
        var seen = new List<ReplicationEvent>();
        using (var reading = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            while (seen.Count < 4 && await events.ReadAsync(reading.Token) is { } e)
            {
                seen.Add(e);
            }
        }
        Assert.Equal([1UL, 2, 3, 4], seen.Select(e => e.Txid.Value));
        foreach (ReplicationEvent e in seen)
        {
            string file = client.LtxFilePath(0, e.Txid, e.Txid);
            byte[] header = File.ReadAllBytes(file)[..LtxHeader.Size];
            Assert.Equal((ReplicationEventKind.Tx, path, new FileInfo(file).Length, LtxHeader.Read(header).CreatedAt), (e.Kind, e.Db, e.Size, e.Timestamp));
        }
        await stop.CancelAsync();
        await run;
        Assert.False(events.Overflowed);
    }

    /// <summary>
    /// Several replicas: a TXID's tx event comes once, from whichever replica holds it first, so the first replica
    /// failing on every upload (its path under a regular file) silences nothing.
    /// </summary>
    [RequiresFact]
    public async Task SubscribeEvents_SeveralReplicas_FirstFailing_OneTxPerTransaction()
    {
        string dir = TestRepo.TempDir();
        string path = Path.Combine(dir, "app.db");
        SqliteWriter.Write(path, 3);
        File.WriteAllText(Path.Combine(dir, "not-a-dir"), "");
        var db = new Db(path, StoreTests.s_fastDb);
        var broken = new Replica(db, new FileReplicaClient(Path.Combine(dir, "not-a-dir", "replica")), StoreTests.s_fastReplica with { Name = "broken" });
        var first = new FileReplicaClient(Path.Combine(dir, "replica-a"));
        var second = new FileReplicaClient(Path.Combine(dir, "replica-b"));
        var store = new Store([broken, new Replica(db, first, StoreTests.s_fastReplica with { Name = "a" }), new Replica(db, second, StoreTests.s_fastReplica with { Name = "b" })],
            new StoreOptions { MaxBackoff = TimeSpan.FromMilliseconds(200), ShutdownSyncTimeout = TimeSpan.FromSeconds(2) });
        using ReplicationEventSubscription events = store.SubscribeEvents();
        using var stop = new CancellationTokenSource();
        Task run = store.RunAsync(stop.Token);
        bool Both(int txid) => File.Exists(first.LtxFilePath(0, new Txid((ulong)txid), new Txid((ulong)txid))) && File.Exists(second.LtxFilePath(0, new Txid((ulong)txid), new Txid((ulong)txid)));
        for (int i = 0; i < 3; i++)
        {
            await Wait.UntilAsync(() => Both(i + 1), $"txid {i + 1} on both good replicas");
            SqliteWriter.Write(path, 2, start: 3 + (2 * i));
        }
        await Wait.UntilAsync(() => Both(4), "txid 4 on both good replicas");
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<Exception>(() => run); // the final sync leaves broken behind
        var seen = new List<ReplicationEvent>();
        while (events.TryRead(out ReplicationEvent? e))
        {
            seen.Add(e);
        }
        Assert.Equal([1UL, 2, 3, 4], seen.Where(e => e.Kind == ReplicationEventKind.Tx).Select(e => e.Txid.Value));
        Assert.All(seen.Where(e => e.Kind == ReplicationEventKind.Tx), e => Assert.Equal(path, e.Db));
        Assert.Contains(seen, e => e.Kind == ReplicationEventKind.Error);
    }

    [RequiresFact]
    public async Task SubscribeEvents_SubscriberThatDoesNotRead_DroppedWithAnError_ReplicationGoesOn()
    {
        string dir = TestRepo.TempDir();
        string path = Path.Combine(dir, "app.db");
        SqliteWriter.Write(path, 1);
        var client = new FileReplicaClient(Path.Combine(dir, "replica"));
        var store = new Store([new Replica(new Db(path, StoreTests.s_fastDb), client, StoreTests.s_fastReplica)]);
        using ReplicationEventSubscription slow = store.SubscribeEvents(capacity: 2);
        using var stop = new CancellationTokenSource();
        Task run = store.RunAsync(stop.Token);
        for (ulong txid = 1; txid <= 5; txid++)
        {
            await Wait.UntilAsync(() => File.Exists(client.LtxFilePath(0, new Txid(txid), new Txid(txid))), $"txid {txid} on the replica (the slow subscriber must not hold it up)");
            SqliteWriter.Write(path, 1, start: (int)txid);
        }
        await store.SyncAsync();
        Assert.True(slow.Overflowed);
        ReplicationEvent first = (await slow.ReadAsync())!;
        Assert.Equal((ReplicationEventKind.Tx, 1UL), (first.Kind, first.Txid.Value));
        ReplicationEvent second = (await slow.ReadAsync())!;
        Assert.Equal((ReplicationEventKind.Tx, 2UL), (second.Kind, second.Txid.Value));
        ReplicationEvent dropped = (await slow.ReadAsync())!;
        Assert.Equal((ReplicationEventKind.Error, "", "events dropped: this subscriber fell 2 events behind; subscribe again"), (dropped.Kind, dropped.Db, dropped.Message));
        Assert.Null(await slow.ReadAsync());
        await stop.CancelAsync();
        await run;
        Assert.Equal(SqliteWriter.Dump(path), await StoreTests.RestoreDump(client, dir));
    }
}
