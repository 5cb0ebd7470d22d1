using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Litestream.Ltx;
using Litestream.Storage;

namespace Litestream.Aot.Cli;

/// <summary><c>litestream ltx [-level N|all] [-json] DB_PATH|REPLICA_URL</c>: lists a replica's LTX files.</summary>
internal static class LtxCommand
{
    public static Command Build() => Build(new DocumentedCommand("ltx", "list LTX files of a database or replica",
        "Lists the LTX files a replica holds, level by level: level 0 holds one file per sync, levels 1 and up the "
        + "compacted files, level 9 the snapshots. Each row gives the file's TXID range, size and creation time, so it "
        + "shows which -txid and -timestamp values restore can reach. A database path is looked up in the config file; "
        + "a replica URL needs none.",
        new("list the level-0 files of a configured database's replica", "litestream ltx /var/lib/app.db"),
        new("list every level of an S3 replica", "litestream ltx -level all s3://mybucket/app.db"),
        new("list the snapshots as JSON", "litestream ltx -level 9 -json /var/lib/app.db")));

    /// <summary>Upstream's deprecated name for <c>ltx</c>.</summary>
    public static Command BuildWal() => Build(new DocumentedCommand("wal", "deprecated alias of ltx",
        "The v0.3 command that listed WAL segments, kept so scripts keep working: since v0.5 a replica holds LTX files, "
        + "and wal prints a deprecation warning on standard error, then lists them exactly as ltx does. Use ltx.",
        new("the same as 'litestream ltx /var/lib/app.db'", "litestream wal /var/lib/app.db"),
        new("what to type instead", "litestream ltx -level all /var/lib/app.db")));

    private static Command Build(DocumentedCommand command)
    {
        string name = command.Name;
        Argument<string> target = new("target") { Description = "database path (from the config) or replica URL", HelpName = "DB_PATH|REPLICA_URL" };
        Option<string?> level = CommonOptions.Create<string?>("level", "level 0-9 or all (default 0)");
        Option<bool> json = CommonOptions.Json();
        Option<string?> config = CommonOptions.Config();
        Option<bool> noExpandEnv = CommonOptions.NoExpandEnv();
        command.Arguments.Add(target);
        foreach (Option option in new Option[] { level, json, config, noExpandEnv })
        {
            command.Options.Add(option);
        }
        command.SetAction(async (result, cancellationToken) =>
        {
            if (name == "wal")
            {
                // Upstream's wording, so log scrapers that look for it keep working.
                Console.Error.WriteLine("Warning: 'wal' command is deprecated, please use 'ltx' instead");
            }
            string levelText = result.GetValue(level) ?? "0";
            int[] levels = levelText == "all"
                ? [.. Enumerable.Range(0, LtxConstants.SnapshotLevel + 1)]
                : int.TryParse(levelText, NumberStyles.None, CultureInfo.InvariantCulture, out int l) && l <= LtxConstants.SnapshotLevel
                    ? [l]
                    : throw new UsageException($"invalid -level \"{levelText}\"", "use 0-9 or all");
            (IReplicaClient client, _, _) = ReplicaTarget.Resolve(result.GetValue(target)!, result.GetValue(config), !result.GetValue(noExpandEnv));
            var rows = new List<LtxFileRow>();
            await using (client.ConfigureAwait(false))
            {
                await client.InitAsync(cancellationToken).ConfigureAwait(false);
                foreach (int n in levels)
                {
                    await foreach (LtxFileInfo info in client.ListLtxFilesAsync(n, Txid.Zero, false, cancellationToken).ConfigureAwait(false))
                    {
                        rows.Add(ToRow(info));
                    }
                }
            }
            Print(rows, result.GetValue(json));
            return 0;
        });
        return command;
    }

    /// <summary>LTX file rows as JSON or as an aligned table (also restore -dry-run's plan).</summary>
    internal static void Print(List<LtxFileRow> rows, bool json)
    {
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(rows, LitestreamJsonContext.Indented.ListLtxFileRow));
            return;
        }
        var table = new TextTable("level", "min_txid", "max_txid", "size", "created");
        foreach (LtxFileRow r in rows)
        {
            table.Add(r.Level.ToString(CultureInfo.InvariantCulture), r.MinTxid, r.MaxTxid, r.Size.ToString(CultureInfo.InvariantCulture), r.Created);
        }
        table.WriteTo(Console.Out);
    }

    internal static LtxFileRow ToRow(LtxFileInfo info)
        => new(info.Level, info.MinTxid.ToString(), info.MaxTxid.ToString(), info.Size,
            info.CreatedAt.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture));
}
