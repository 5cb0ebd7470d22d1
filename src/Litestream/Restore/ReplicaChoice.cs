using Litestream.Ltx;
using Litestream.Storage;

namespace Litestream.Restore;

/// <summary>
/// Which of a database's replicas a restore reads when it has several and none was named (the exe's <c>replicas:</c>
/// list, several replicas in Litestream.Hosting): the reachable one whose plan reaches the newest TXID, the first in
/// the order given on a tie.
/// </summary>
public static class ReplicaChoice
{
    /// <summary>One replica to consider, and once chosen, the TXID its restore reaches and its plan.</summary>
    /// <param name="Name">How messages name the replica.</param>
    /// <param name="Client">Its client (initialized by <see cref="NewestAsync"/>).</param>
    /// <param name="Description">What it is, for messages: its URL or path.</param>
    public sealed record Candidate(string Name, IReplicaClient Client, string Description)
    {
        /// <summary>The TXID a restore from it reaches (set on the candidate <see cref="NewestAsync"/> returns).</summary>
        public Txid Txid { get; internal init; }

        /// <summary>What a restore from it reads (set on the candidate <see cref="NewestAsync"/> returns).</summary>
        public RestorePlan? Plan { get; internal init; }
    }

    /// <summary>
    /// Plans the restore on every candidate at once and returns the newest. A replica that cannot be reached is told to
    /// <paramref name="unreachable"/> as long as another has a backup; when none has one, an unreachable replica's
    /// error is thrown, never "no backup" (it may hold one).
    /// </summary>
    /// <exception cref="NoBackupException">Every replica answered and none holds a backup.</exception>
    /// <exception cref="TxNotAvailableException">No replica holds the TXID or time asked for.</exception>
    public static async Task<Candidate> NewestAsync(IReadOnlyList<Candidate> candidates, Txid txid, DateTimeOffset? timestamp, Action<Candidate, Exception> unreachable, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        ArgumentNullException.ThrowIfNull(unreachable);
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
        Exception? failed = null;
        Exception? notAvailable = null;
        for (int i = 0; i < candidates.Count; i++)
        {
            Task<RestorePlan> plan = plans[i];
            if (plan.IsCompletedSuccessfully)
            {
                RestorePlan source = plan.Result;
                if (newest is null || source.Txid > newest.Txid)
                {
                    newest = candidates[i] with { Txid = source.Txid, Plan = source };
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
                    failed ??= e;
                    unreachable(candidates[i], e);
                    break;
            }
        }
        return newest ?? throw (failed ?? notAvailable ?? new NoBackupException("no backups found on any replica"));
    }

    private static async Task<RestorePlan> PlanAsync(IReplicaClient client, Txid txid, DateTimeOffset? timestamp, CancellationToken cancellationToken)
    {
        await client.InitAsync(cancellationToken).ConfigureAwait(false);
        return await RestorePlan.CreateAsync(client, txid, timestamp, cancellationToken).ConfigureAwait(false);
    }
}
