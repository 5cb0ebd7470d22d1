namespace Litestream.Client.Tests;

/// <summary>EventSubscription and PrimaryMonitor over the daemon's GET /events.</summary>
[Requires(Need.Python)]
public sealed class EventSubscriptionTests
{
    /// <summary>init with the TXID the replica holds, then one tx per uploaded transaction, in order; the daemon stopping ends the stream with an error.</summary>
    [RequiresFact(Need.Exe)]
    public async Task Events_InitThenEveryTx_ThenTheEndIsAnError()
    {
        using var node = new Node(TestRepo.TempDir());
        using var client = new LitestreamClient(node.Socket);
        await LitestreamClientTests.WaitForAsync(() => client.LagAsync(node.Database), l => l.BehindTxids == 0 && l.Txid > 0);
        await using EventSubscription events = await client.SubscribeEventsAsync(node.Database);
        LitestreamEvent init = await events.NextAsync();
        ulong start = node.ReplicaTxid();
        Assert.Equal(("init", node.Database, start, true), (init.Type, init.Db, init.Data.Txid, init.Data.IsPrimary));

        ulong end = start;
        for (int i = 0; i < 3; i++)
        {
            // One commit at a time: commits within one monitor interval would be one TXID.
            SqliteWriter.Write(node.Database, 1, start: 3 + i);
            ulong before = end;
            end = (await LitestreamClientTests.WaitForAsync(() => client.LagAsync(node.Database), l => l.BehindTxids == 0 && l.Txid > before)).Txid;
        }
        for (ulong txid = start + 1; txid <= end; txid++)
        {
            LitestreamEvent tx = await events.NextAsync();
            Assert.Equal(("tx", node.Database, txid), (tx.Type, tx.Db, tx.Data.Txid));
            Assert.True(tx.Data.Size > 0 && tx.Data.Timestamp > DateTimeOffset.UtcNow.AddMinutes(-5), $"tx {txid}: size {tx.Data.Size}, at {tx.Data.Timestamp}");
        }

        Assert.Equal(0, node.Process.Stop());
        var ended = await Assert.ThrowsAsync<LitestreamClientException>(async () => await events.NextAsync());
        Assert.Equal($"the daemon at {node.Socket} ended the event stream (it stopped, or dropped this subscriber)", ended.Message);
    }

    /// <summary>
    /// With a lease the monitor knows the holder from init (this host, the daemon's pid, generation 1); the daemon
    /// stopping releases the lease, and the monitor sees the primaryChange.
    /// </summary>
    [RequiresFact(Need.Exe)]
    public async Task PrimaryMonitor_FollowsTheLease()
    {
        using var node = new Node(TestRepo.TempDir(), lease: true);
        using var client = new LitestreamClient(node.Socket);
        await using PrimaryMonitor monitor = await client.MonitorPrimaryAsync(node.Database);
        Assert.Equal(new PrimaryState(true, Environment.MachineName, node.Process.Pid, 1), monitor.Current);
        var changes = new List<PrimaryState>();
        monitor.Changed += (_, state) => changes.Add(state);

        Task<PrimaryState> released = monitor.WaitAsync(s => !s.IsPrimary);
        Assert.Equal(0, node.Process.Stop());
        PrimaryState after = await released.WaitAsync(Wait.DefaultCeiling);
        Assert.False(after.IsPrimary);
        Assert.Equal([after], changes);
    }
}
