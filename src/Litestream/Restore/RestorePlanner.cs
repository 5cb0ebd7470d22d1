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
    {
        var levels = new List<LtxFileInfo>[LtxConstants.SnapshotLevel + 1];
        for (int level = 0; level <= LtxConstants.SnapshotLevel; level++)
        {
            levels[level] = [];
            await foreach (LtxFileInfo info in client.ListLtxFilesAsync(level, Txid.Zero, timestamp is not null, cancellationToken).ConfigureAwait(false))
            {
                levels[level].Add(info);
            }
        }
        return Plan(levels, txid, timestamp);
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
