using Litestream.Ltx;
using Litestream.Restore;
using Litestream.Storage;

namespace Litestream.Aot.Cli;

/// <summary>
/// Which of a database's replicas a restore reads when it has several (a <c>replicas:</c> list) and none was named:
/// the reachable one whose plan reaches the newest TXID, the first in config order on a tie.
/// </summary>
internal static class ReplicaChoice
{
    /// <summary>One replica to consider, and once planned, the TXID its restore reaches and its plan.</summary>
    internal sealed record Candidate(string Name, IReplicaClient Client, string Description)
    {
        public Txid Txid { get; init; }

        public RestorePlan? Source { get; init; }
    }

    /// <summary>
    /// Plans the restore on every candidate at once and returns the newest. A replica that cannot be reached is a
    /// warning (<paramref name="warn"/>) as long as another has a backup; when none has one, an unreachable replica's
    /// error is thrown, never "no backup" (it may hold one).
    /// </summary>
    /// <exception cref="NoBackupException">Every replica answered and none holds a backup.</exception>
    /// <exception cref="TxNotAvailableException">No replica holds the TXID or time asked for.</exception>
    public static async Task<Candidate> NewestAsync(IReadOnlyList<Candidate> candidates, Txid txid, DateTimeOffset? timestamp, Action<string> warn, CancellationToken cancellationToken)
    {
        Task<RestorePlan>[] plans = [.. candidates.Select(c => PlanAsync(c.Client, txid, timestamp, cancellationToken))];
        try
        {
            await Task.WhenAll(plans).ConfigureAwait(false);
        }
        catch (Exception) when (!cancellationToken.IsCancellationRequested)
        {
            // Each plan's outcome is read below.
        }
        cancellationToken.ThrowIfCancellationRequested();
        Candidate? newest = null;
        Exception? unreachable = null;
        Exception? notAvailable = null;
        for (int i = 0; i < candidates.Count; i++)
        {
            Task<RestorePlan> plan = plans[i];
            if (plan.IsCompletedSuccessfully)
            {
                RestorePlan source = plan.Result;
                Txid reaches = source.Files.Count > 0 ? source.Files[^1].MaxTxid : Txid.Zero;
                if (newest is null || reaches > newest.Txid)
                {
                    newest = candidates[i] with { Txid = reaches, Source = source };
                }
                continue;
            }
            Exception e = plan.Exception!.InnerException!;
            switch (e)
            {
                case NoBackupException:
                    break;
                case TxNotAvailableException:
                    notAvailable ??= e;
                    break;
                default:
                    unreachable ??= e;
                    warn($"replica {candidates[i].Name} ({candidates[i].Description}) could not be read: {e.Message}");
                    break;
            }
        }
        return newest ?? throw (unreachable ?? notAvailable ?? new NoBackupException("no backups found on any replica"));
    }

    private static async Task<RestorePlan> PlanAsync(IReplicaClient client, Txid txid, DateTimeOffset? timestamp, CancellationToken cancellationToken)
    {
        await client.InitAsync(cancellationToken).ConfigureAwait(false);
        return await RestorePlan.CreateAsync(client, txid, timestamp, cancellationToken).ConfigureAwait(false);
    }
}
