using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Litestream.Restore;
using Litestream.Storage;

namespace Litestream.Aot.Cli;

/// <summary><c>lag -json</c>: how far a follower copy is behind its replica's head.</summary>
internal sealed record LagReport(
    [property: JsonPropertyName("path")] string Path,
    [property: JsonPropertyName("replica")] string Replica,
    [property: JsonPropertyName("applied_txid")] string AppliedTxid,
    [property: JsonPropertyName("head_txid")] string HeadTxid,
    [property: JsonPropertyName("behind_txids")] ulong BehindTxids,
    [property: JsonPropertyName("lag_seconds")] double? LagSeconds,
    [property: JsonPropertyName("applied_at")] string? AppliedAt,
    [property: JsonPropertyName("head_at")] string? HeadAt);

/// <summary>
/// <c>litestream lag [-o PATH] [-json] DB_PATH|REPLICA_URL</c>: how far a follower copy (<c>restore -f</c>) is behind
/// the replica's head, in TXIDs and in the primary's capture time (<see cref="FollowerLag"/>). The target names the
/// replica as <c>restore</c> does; the copy is <c>-o</c>, else the database path itself.
/// </summary>
internal static class LagCommand
{
    public static Command Build()
    {
        Argument<string> target = new("target") { Description = "database path (from the config) or replica URL", HelpName = "DB_PATH|REPLICA_URL" };
        Option<string?> output = CommonOptions.Create<string?>("o", "the follower copy (required for a replica URL; default: the database path)");
        Option<bool> json = CommonOptions.Json();
        Option<string?> config = CommonOptions.Config();
        Option<bool> noExpandEnv = CommonOptions.NoExpandEnv();
        var command = new DocumentedCommand("lag", "show how far a follower copy is behind its replica",
            "Compares a copy that 'restore -f' keeps current with its replica: the TXID the copy applied last (its "
            + "-txid file), the newest TXID the replica holds, how many transactions lie between, and lag_seconds: the "
            + "newest transaction's capture time less the applied one's, both from their LTX headers (the primary's "
            + "clock), 0 when caught up. Transactions the primary has not uploaded yet are not counted: 'litestream "
            + "status' on the primary shows those. A database path is looked up in the config like restore; -o names the copy.",
            new("lag of the copy restore -f keeps at /srv/app.db", "litestream lag -o /srv/app.db /var/lib/app.db"),
            new("the same straight from an S3 replica, as JSON", "litestream lag -json -o /srv/app.db s3://mybucket/app.db"))
        {
            target, output, json, config, noExpandEnv,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            string t = result.GetValue(target)!;
            string copy = result.GetValue(output) ?? (ReplicaUrl.IsUrl(t)
                ? throw new UsageException("the follower copy is required with a replica URL", "add -o PATH: the file 'restore -f -o PATH' keeps current")
                : t);
            (IReplicaClient client, string description, _) = ReplicaTarget.Resolve(t, result.GetValue(config), !result.GetValue(noExpandEnv));
            await using (client.ConfigureAwait(false))
            {
                FollowerLag lag = await FollowerLag.MeasureAsync(copy, client, cancellationToken).ConfigureAwait(false);
                var report = new LagReport(lag.Path, description, lag.AppliedTxid.ToString(), lag.HeadTxid.ToString(), lag.BehindTxids,
                    lag.Behind is { } behind ? Math.Round(behind.TotalSeconds, 3) : null,
                    lag.AppliedAt is { } a ? LitestreamJsonContext.FormatTime(a) : null, lag.HeadAt is { } h ? LitestreamJsonContext.FormatTime(h) : null);
                Console.WriteLine(result.GetValue(json) ? JsonSerializer.Serialize(report, LitestreamJsonContext.Indented.LagReport) : string.Join('\n',
                    $"path: {report.Path}",
                    $"replica: {report.Replica}",
                    $"applied_txid: {report.AppliedTxid}",
                    $"head_txid: {report.HeadTxid}",
                    $"behind_txids: {report.BehindTxids}",
                    $"lag_seconds: {(report.LagSeconds is { } s ? s.ToString(CultureInfo.InvariantCulture) : "unknown (the applied transaction's file was compacted)")}"));
                return Program.ExitOk;
            }
        });
        return command;
    }
}
