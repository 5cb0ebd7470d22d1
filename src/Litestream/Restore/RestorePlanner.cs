using Litestream.Ltx;
using Litestream.Storage;

namespace Litestream.Restore;

/// <summary>
/// Computes the fewest files that rebuild the database at a TXID or time (upstream
/// <c>CalcRestorePlan</c>, REPLICA-LAYOUT.md §5.1): the newest usable snapshot, then repeatedly the best
/// file across levels 8..0 that continues the chain (largest MaxTxid, then smallest MinTxid, then
/// higher level, then earlier creation).
/// </summary>
internal static class RestorePlanner
{
    /// <summary>Lists every level of the replica and plans from the listings.</summary>
    public static async ValueTask<IReadOnlyList<LtxFileInfo>> PlanAsync(IReplicaClient client, Txid txid, DateTimeOffset? timestamp, CancellationToken cancellationToken)
        => Plan(await ListAsync(client, LtxConstants.SnapshotLevel, Txid.Zero, timestamp is not null, cancellationToken).ConfigureAwait(false), txid, timestamp);

    /// <summary>Lists levels 0..<paramref name="top"/>, each from <paramref name="seek"/> (files whose MinTxid is below it are skipped).</summary>
    public static async ValueTask<IReadOnlyList<IReadOnlyList<LtxFileInfo>>> ListAsync(IReplicaClient client, int top, Txid seek, bool useMetadata, CancellationToken cancellationToken)
    {
        var levels = new List<LtxFileInfo>[top + 1];
        for (int level = 0; level <= top; level++)
        {
            levels[level] = [];
            await foreach (LtxFileInfo info in client.ListLtxFilesAsync(level, seek, useMetadata, cancellationToken).ConfigureAwait(false))
            {
                levels[level].Add(info);
            }
        }
        return levels;
    }

    /// <summary>Plans from listings: <paramref name="levels"/>[n] holds level n's files ordered by MinTxid.</summary>
    public static IReadOnlyList<LtxFileInfo> Plan(IReadOnlyList<IReadOnlyList<LtxFileInfo>> levels, Txid txid, DateTimeOffset? timestamp)
    {
        var plan = new List<LtxFileInfo>();
        ulong currentMax = 0;
        if (levels.Count > LtxConstants.SnapshotLevel)
        {
            LtxFileInfo? snapshot = null;
            foreach (LtxFileInfo info in levels[LtxConstants.SnapshotLevel])
            {
                if ((txid.IsZero || info.MaxTxid <= txid) && (timestamp is null || info.CreatedAt < timestamp))
                {
                    snapshot = info;
                }
            }
            if (snapshot is not null)
            {
                plan.Add(snapshot);
                currentMax = snapshot.MaxTxid.Value;
                if (!txid.IsZero && currentMax >= txid.Value)
                {
                    return plan;
                }
            }
        }

        currentMax = Continue(levels, plan, currentMax, txid, timestamp);
        if (plan.Count == 0)
        {
            throw txid.IsZero && timestamp is null
                ? new NoBackupException("no backups available: the replica has no ltx files")
                : new TxNotAvailableException("transaction not available");
        }
        if (!txid.IsZero && currentMax < txid.Value)
        {
            throw new TxNotAvailableException($"transaction not available: {txid} (replica ends at {new Txid(currentMax)})");
        }
        return plan;
    }

    /// <summary>
    /// The files that take a copy at <paramref name="position"/> to the newest state the listings hold (follow mode):
    /// the chain rules of <see cref="Plan"/> without a snapshot; empty when nothing is newer.
    /// </summary>
    /// <exception cref="NonContiguousReplicaException">A level continues past a gap the chain cannot bridge.</exception>
    public static IReadOnlyList<LtxFileInfo> PlanFrom(IReadOnlyList<IReadOnlyList<LtxFileInfo>> levels, Txid position)
    {
        var plan = new List<LtxFileInfo>();
        Continue(levels, plan, position.Value, Txid.Zero, null);
        return plan;
    }

    /// <summary>
    /// Adds to <paramref name="plan"/> the best file across levels 8..0 that continues the chain at
    /// <paramref name="currentMax"/>, repeatedly; for the latest state, refuses a level that continues past a gap.
    /// Returns where the chain ends.
    /// </summary>
    private static ulong Continue(IReadOnlyList<IReadOnlyList<LtxFileInfo>> levels, List<LtxFileInfo> plan, ulong currentMax, Txid txid, DateTimeOffset? timestamp)
    {
        int top = Math.Min(levels.Count, LtxConstants.SnapshotLevel) - 1;
        while (true)
        {
            LtxFileInfo? best = null;
            for (int level = top; level >= 0; level--)
            {
                foreach (LtxFileInfo info in levels[level])
                {
                    if (info.MinTxid.Value > currentMax + 1)
                    {
                        break;
                    }
                    if (info.MaxTxid.Value <= currentMax || (!txid.IsZero && info.MaxTxid > txid) || (timestamp is not null && info.CreatedAt >= timestamp))
                    {
                        continue;
                    }
                    if (best is null || IsBetter(info, best))
                    {
                        best = info;
                    }
                }
            }
            if (best is null)
            {
                break;
            }
            plan.Add(best);
            currentMax = best.MaxTxid.Value;
            if (!txid.IsZero && currentMax >= txid.Value)
            {
                break;
            }
        }

        if (txid.IsZero && timestamp is null)
        {
            for (int level = 0; level <= top; level++)
            {
                foreach (LtxFileInfo info in levels[level])
                {
                    if (info.MaxTxid.Value > currentMax && info.MinTxid.Value > currentMax + 1)
                    {
                        throw new NonContiguousReplicaException(
                            $"non-contiguous ltx files: level {level} continues at {info.MinTxid} but the chain ends at {new Txid(currentMax)}");
                    }
                }
            }
        }
        return currentMax;
    }

    private static bool IsBetter(LtxFileInfo candidate, LtxFileInfo best)
    {
        if (candidate.MaxTxid != best.MaxTxid)
        {
            return candidate.MaxTxid > best.MaxTxid;
        }
        if (candidate.MinTxid != best.MinTxid)
        {
            return candidate.MinTxid < best.MinTxid;
        }
        if (candidate.Level != best.Level)
        {
            return candidate.Level > best.Level;
        }
        return candidate.CreatedAt < best.CreatedAt;
    }
}
