using Litestream.Aot.Cli;
using Litestream.Ltx;
using Litestream.Replication;

namespace Litestream.Aot.Tests.Cli;

/// <summary>The lag status and databases print, from the health file and the local L0 files.</summary>
public class ReplicationLagTests
{
    private static readonly DateTimeOffset s_now = new(2026, 12, 6, 12, 0, 0, TimeSpan.Zero);

    private static HealthReport Holding(ulong? replicaTxid)
        => new(1, null, null) { StartedAt = s_now.AddSeconds(-300), ReplicaTxid = replicaTxid is { } t ? new Txid(t) : null };

    [Theory]
    [InlineData(7UL, 7UL, 40.0, 0.0)]      // caught up: no lag, whatever waited before
    [InlineData(7UL, 9UL, 5.0, 5.0)]       // two transactions waiting, the oldest written 5 s ago
    [InlineData(7UL, 9UL, 12.26, 12.3)]
    [InlineData(null, 9UL, 1.0, 300.0)]    // the replica was never reached: since the process started
    public void Of_ReplicaAndLocalTxid_SecondsTheOldestWaitingFileWaited(ulong? replica, ulong local, double pendingFor, double lag)
        => Assert.Equal(lag, ReplicationLag.Of(Holding(replica), new Txid(local), s_now.AddSeconds(-pendingFor), s_now));

    [Fact]
    public void Of_NoReplicateRunning_Unknown()
    {
        Assert.Null(ReplicationLag.Of(null, new Txid(3), s_now, s_now));
        Assert.Equal(0, ReplicationLag.Of(Holding(null), Txid.Zero, null, s_now));
        Assert.Equal("-", ReplicationLag.Format(null));
        Assert.Equal("12.5s", ReplicationLag.Format(12.5));
        Assert.Equal("0s", ReplicationLag.Format(0));
        Assert.Equal("1m35s", ReplicationLag.Format(95));
    }
}
