using Litestream.Ltx;
using Litestream.Replication;

namespace Litestream.Aot.Cli;

/// <summary>
/// How far a replica is behind its database, in seconds, as <c>status</c> and <c>databases</c> read it from the files
/// alone: 0 when the replica holds the newest local TXID (the running <c>replicate</c>'s health file says which it
/// holds), else the age of the oldest local L0 file it does not hold (since the process started when the replica
/// was never reached). Unknown (null) when no <c>replicate</c> runs for the database. Whether that is too long is
/// <see cref="HealthReport.DescribeLag"/>'s call (status <c>behind</c>).
/// </summary>
internal static class ReplicationLag
{
    /// <summary>The lag; <paramref name="pendingSince"/> is when the oldest local L0 file the replica lacks was written.</summary>
    public static double? Of(HealthReport? health, Txid local, DateTimeOffset? pendingSince, DateTimeOffset now)
    {
        if (health is null)
        {
            return null;
        }
        if (local.IsZero || health.ReplicaTxid >= local)
        {
            return 0;
        }
        DateTimeOffset since = health.ReplicaTxid is null ? health.StartedAt : pendingSince ?? now;
        return Math.Round(Math.Max(0, (now - since).TotalSeconds), 1);
    }

    /// <summary>The lag as the text tables show it, a Go duration: <c>0s</c>, <c>12.5s</c>, <c>1m35s</c>, <c>-</c> when unknown.</summary>
    public static string Format(double? seconds) => seconds is { } s ? GoDuration.Format(TimeSpan.FromSeconds(s)) : "-";
}
