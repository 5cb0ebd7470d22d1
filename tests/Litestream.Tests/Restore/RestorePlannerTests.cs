using Litestream.Ltx;
using Litestream.Restore;

namespace Litestream.Tests.Restore;

/// <summary>VECTORS.md §7 (upstream TestReplica_CalcRestorePlan) plus the error cases.</summary>
public class RestorePlannerTests
{
    private static readonly DateTimeOffset s_t0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static LtxFileInfo F(int level, ulong min, ulong max, int second = 0)
        => new(level, new Txid(min), new Txid(max), 100, s_t0.AddSeconds(second));

    private static List<LtxFileInfo>[] Levels(params LtxFileInfo[] files)
    {
        var levels = new List<LtxFileInfo>[10];
        for (int i = 0; i < 10; i++)
        {
            levels[i] = [.. files.Where(f => f.Level == i).OrderBy(f => f.MinTxid).ThenBy(f => f.MaxTxid)];
        }
        return levels;
    }

    private static string Plan(List<LtxFileInfo>[] levels, ulong txid, DateTimeOffset? at = null)
        => string.Join(", ", RestorePlanner.Plan(levels, new Txid(txid), at).Select(f => $"L{f.Level}:{f.MinTxid.Value}-{f.MaxTxid.Value}"));

    [Fact]
    public void Plan_SnapshotOnly() => Assert.Equal("L9:1-10", Plan(Levels(F(9, 1, 10)), 10));

    [Fact]
    public void Plan_SnapshotAndIncremental()
        => Assert.Equal("L9:1-5, L1:6-7, L1:8-9, L0:10-10", Plan(Levels(
            F(9, 1, 5), F(9, 1, 15), F(1, 6, 7), F(1, 8, 9), F(1, 10, 12), F(0, 7, 7), F(0, 8, 8), F(0, 9, 9), F(0, 10, 10), F(0, 11, 11)), 10));

    [Fact]
    public void Plan_SelectLongestAcrossLevels()
        => Assert.Equal("L9:1-5, L0:6-20", Plan(Levels(F(9, 1, 5), F(2, 6, 12), F(0, 6, 20)), 20));

    [Fact]
    public void Plan_GapInLevelResolvedByLowerLevel()
        => Assert.Equal("L9:1-5, L1:6-7, L0:8-8, L1:9-10", Plan(Levels(F(9, 1, 5), F(1, 6, 7), F(1, 9, 10), F(0, 8, 8), F(0, 9, 9), F(0, 10, 10)), 10));

    [Fact]
    public void Plan_SkipsDuplicateRangesAcrossLevels()
        => Assert.Equal("L9:1-1", Plan(Levels(F(9, 1, 1), F(1, 1, 1), F(0, 1, 1)), 1));

    [Fact]
    public void Plan_OverlappingFilesWithinLevel()
        => Assert.Equal("L9:1-5, L2:1-100", Plan(Levels(F(9, 1, 5), F(2, 1, 100), F(2, 50, 60)), 0));

    [Fact]
    public void Plan_L0ChainWithoutSnapshotLevel_StartsAtTxid1()
        => Assert.Equal("L0:1-1, L0:2-2, L0:3-3", Plan(Levels(F(0, 1, 1), F(0, 2, 2), F(0, 3, 3)), 0));

    [Fact]
    public void Plan_Timestamp_UsesFilesCreatedStrictlyBefore()
        => Assert.Equal("L0:1-1, L0:2-2", Plan(Levels(F(0, 1, 1, 1), F(0, 2, 2, 2), F(0, 3, 3, 3)), 0, s_t0.AddSeconds(3)));

    [Fact]
    public void Plan_LatestWithGap_NonContiguous()
    {
        var error = Assert.Throws<NonContiguousReplicaException>(() => Plan(Levels(F(0, 1, 1), F(0, 2, 2), F(0, 4, 4)), 0));
        Assert.Equal("non-contiguous ltx files: level 0 continues at 0000000000000004 but the chain ends at 0000000000000002", error.Message);
    }

    [Fact]
    public void Plan_TxidPastEnd_TxNotAvailable()
    {
        var error = Assert.Throws<TxNotAvailableException>(() => Plan(Levels(F(0, 1, 1), F(0, 2, 2)), 0xff));
        Assert.Equal("transaction not available: 00000000000000ff (replica ends at 0000000000000002)", error.Message);
    }

    [Fact]
    public void Plan_EmptyReplica_NoBackup()
        => Assert.Equal("no backups available: the replica has no ltx files", Assert.Throws<NoBackupException>(() => Plan(Levels(), 0)).Message);

    [Fact]
    public void Plan_ChainNotStartingAtOne_Refused()
        => Assert.Equal("non-contiguous ltx files: level 0 continues at 0000000000000002 but the chain ends at 0000000000000000",
            Assert.Throws<NonContiguousReplicaException>(() => Plan(Levels(F(0, 2, 2), F(0, 3, 3)), 0)).Message);
}
