using Litestream.Ltx;
using Litestream.Replication;

namespace Litestream.Tests.Replication;

/// <summary>
/// The health file a running replicate keeps for <c>status</c>: failures and the replica's position survive the
/// round trip through the file, and the replica counts as behind only when a local L0 file has waited for it
/// longer than the sync interval plus <see cref="ReplicationHealth.LagGrace"/>.
/// </summary>
public sealed class ReplicationHealthTests
{
    private static readonly DateTimeOffset s_t0 = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly HealthReport s_report = new(1, null, null)
    {
        StartedAt = s_t0,
        LagAllowance = TimeSpan.FromSeconds(6),
        ReplicaTxid = new Txid(5),
        ReplicatedAt = s_t0.AddSeconds(10),
    };

    [Fact]
    public void Read_WhatTheRunningProcessWrote_PositionFailuresAndAllowance()
    {
        string meta = TestRepo.TempDir();
        using var health = new ReplicationHealth(meta, TimeSpan.FromSeconds(2));
        health.Replicated(new Txid(0x2a));
        health.UploadFailed("replica s3://bkt/db: s3: put object s3://bkt/db/0000/x.ltx: stalled: no response for 1m0s");
        health.UploadFailed("replica s3://bkt/db: second");

        HealthReport report = ReplicationHealth.Read(meta)!;
        Assert.Equal(Environment.ProcessId, report.Pid);
        Assert.Equal(new Txid(0x2a), report.ReplicaTxid);
        Assert.Equal(TimeSpan.FromSeconds(2) + ReplicationHealth.LagGrace, report.LagAllowance);
        Assert.InRange(DateTimeOffset.UtcNow - report.StartedAt, TimeSpan.Zero, TimeSpan.FromMinutes(1));
        Assert.InRange(report.ReplicatedAt - report.StartedAt, TimeSpan.Zero, TimeSpan.FromMinutes(1));
        Assert.Equal((2, "replica s3://bkt/db: second"), (report.Upload!.Count, report.Upload.Error));
        Assert.Null(report.Sync);

        health.UploadSucceeded();
        health.Replicated(new Txid(0x2b));
        report = ReplicationHealth.Read(meta)!;
        Assert.Null(report.Describe());
        Assert.Equal(new Txid(0x2b), report.ReplicaTxid);
    }

    [Fact]
    public void Write_ShorterTextAfterLonger_FileKeepsItsSizeAndNothingOfTheOldText()
    {
        string meta = TestRepo.TempDir();
        using var health = new ReplicationHealth(meta, TimeSpan.FromSeconds(1));
        health.SyncFailed(new string('x', 3000));
        health.SyncSucceeded(); // rewrites only as many bytes as the longer text took

        byte[] file = File.ReadAllBytes(Path.Combine(meta, "health"));
        Assert.Equal(ReplicationHealth.FileSize, file.Length);
        string text = System.Text.Encoding.UTF8.GetString(file);
        Assert.DoesNotContain("x", text.Replace("lag-allowance", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Equal(string.Empty, text.TrimStart().Split("\n\n", 2)[1].Trim('\n'));
        Assert.Null(ReplicationHealth.Read(meta)!.Sync);
    }

    [Fact]
    public void Read_ProcessGone_Null()
    {
        string meta = TestRepo.TempDir();
        var health = new ReplicationHealth(meta, TimeSpan.FromSeconds(1));
        health.Dispose();
        Assert.Null(ReplicationHealth.Read(meta));
    }

    [Theory]
    [InlineData(5, null, 100)]   // the replica holds the local state
    [InlineData(9, 0, 5)]        // a file waiting 5 s of the 6 s allowed
    [InlineData(9, 0, 6)]
    public void DescribeLag_WithinTheAllowance_Null(ulong local, int? pendingAt, int now)
        => Assert.Null(s_report.DescribeLag(new Txid(local), pendingAt is { } p ? s_t0.AddSeconds(p) : null, s_t0.AddSeconds(now)));

    [Fact]
    public void DescribeLag_LocalFileWaitedLongerThanAllowed_SaysSinceWhenAndBothPositions()
        => Assert.Equal(
            "replica behind since 2026-03-01T12:00:20Z: it holds txid 0000000000000005 (last upload 2026-03-01T12:00:10Z), local txid is 0000000000000009",
            s_report.DescribeLag(new Txid(9), s_t0.AddSeconds(20), s_t0.AddSeconds(27)));

    [Fact]
    public void DescribeLag_ReplicaNeverReached_BehindOnceTheAllowanceFromStartHasPassed()
    {
        HealthReport starting = s_report with { ReplicaTxid = null };
        Assert.Null(starting.DescribeLag(new Txid(9), null, s_t0.AddSeconds(6)));
        Assert.Equal(
            "replica not reached since 2026-03-01T12:00:00Z: local txid 0000000000000009 is not known to be replicated",
            starting.DescribeLag(new Txid(9), null, s_t0.AddSeconds(7)));
        Assert.Null(starting.DescribeLag(Txid.Zero, null, s_t0.AddSeconds(70)));
    }

    [Fact]
    public void New_ManyDatabases_NoFileSizedBufferIsKeptOrAllocatedForEach()
    {
        // One health file per database: 1,000 idle databases each holding a FileSize buffer were 16 MB of the heap.
        // The writes borrow a pooled buffer, so after the first (which may fill the pool) none allocates one.
        string root = TestRepo.TempDir();
        const int Count = 200;
        var healths = new List<ReplicationHealth>(Count);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < Count; i++)
        {
            var health = new ReplicationHealth(Path.Combine(root, i.ToString(System.Globalization.CultureInfo.InvariantCulture)), TimeSpan.FromSeconds(1));
            health.Replicated(new Txid(1));
            healths.Add(health);
        }
        long perDatabase = (GC.GetAllocatedBytesForCurrentThread() - before) / Count;
        Assert.Equal(ReplicationHealth.FileSize, new FileInfo(Path.Combine(root, "7", "health")).Length); // still written in full
        healths.ForEach(h => h.Dispose());
        Assert.InRange(perDatabase, 1, ReplicationHealth.FileSize / 2);
    }
}
