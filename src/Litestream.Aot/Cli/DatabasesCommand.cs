using System.CommandLine;
using System.Text.Json;
using Litestream.Aot.Config;
using Litestream.Aot.Directories;
using Litestream.Replication;
using Litestream.Storage;

namespace Litestream.Aot.Cli;

/// <summary><c>litestream databases [-json]</c>: the databases in the config and their replicas.</summary>
internal static class DatabasesCommand
{
    public static Command Build()
    {
        Option<bool> json = CommonOptions.Json();
        Option<string?> config = CommonOptions.Config();
        Option<bool> noExpandEnv = CommonOptions.NoExpandEnv();
        var command = new DocumentedCommand("databases", "list databases in the config",
            "Lists the databases the config file names and where each is replicated: a file replica by its absolute "
            + "directory (relative paths in a config resolve against the config file's directory), any other replica by "
            + "its URL. It reads only the config; use status for the state of each database.",
            new("list the databases of /etc/litestream.yml", "litestream databases"),
            new("list another config's databases as JSON", "litestream databases -json -config examples/litestream.yml"))
        {
            json, config, noExpandEnv,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            LitestreamConfig cfg = ReplicaTarget.LoadConfig(result.GetValue(config), !result.GetValue(noExpandEnv));
            var rows = new List<DatabaseRow>();
            // A dir: entry lists the databases it holds now, each with its own replica (upstream lays them out the same way).
            foreach (DbConfig db in DatabaseDirectory.Expand(cfg.Dbs, new ConsoleLogger(Microsoft.Extensions.Logging.LogLevel.Warning)))
            {
                DbStatusRow status = await StatusCommand.GetStatusAsync(db, cfg.ReplicaDefaults).ConfigureAwait(false);
                // Several replicas: one row per replica, with its name, type, TXID, state and error.
                IReadOnlyList<ReplicaConfig> sections = db.ReplicaSections();
                for (int i = 0; i < sections.Count; i++)
                {
                    ReplicaSettings s = db.ToReplicaSettings(cfg.ReplicaDefaults, sections[i]);
                    string? name = db.Replicas is null ? null : sections[i].DisplayName(cfg.ReplicaDefaults);
                    rows.Add(status.Replicas?[i] is { } r
                        ? new DatabaseRow(db.Path!, ReplicaTarget.Describe(s), r.LagSeconds ?? status.LagSeconds, r.State == ReplicaStatus.Behind, name)
                        {
                            Type = r.Type, ReplicaTxid = r.ReplicaTxid, State = r.State, Error = r.Error,
                        }
                        : new DatabaseRow(db.Path!, ReplicaTarget.Describe(s), status.LagSeconds, status.Status == "behind", name));
                }
            }
            if (result.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(rows, LitestreamJsonContext.Indented.ListDatabaseRow));
                return 0;
            }
            // Upstream's two columns; the lag only while a replicate process reports it. A database with several
            // replicas names each ("name: replica"), and its rows add the type, the TXID it holds and its state.
            bool lag = rows.Exists(r => r.LagSeconds is not null);
            bool several = rows.Exists(r => r.Type is not null);
            List<string> header = ["path", "replica"];
            if (lag)
            {
                header.Add("lag");
            }
            if (several)
            {
                header.AddRange(["type", "replica txid", "state"]);
            }
            var table = new TextTable([.. header]);
            foreach (DatabaseRow row in rows)
            {
                List<string> cells = [row.Path, row.Name is null ? row.Replica : $"{row.Name}: {row.Replica}"];
                if (lag)
                {
                    cells.Add(row.Behind ? $"behind ({ReplicationLag.Format(row.LagSeconds)})" : ReplicationLag.Format(row.LagSeconds));
                }
                if (several)
                {
                    cells.AddRange([row.Type ?? "-", row.ReplicaTxid ?? "-", row.State ?? "-"]);
                }
                table.Add([.. cells]);
            }
            table.WriteTo(Console.Out);
            foreach (DatabaseRow row in rows)
            {
                if (row.Error is not null)
                {
                    Console.WriteLine($"{row.Path} (replica {row.Name}): {row.Error}");
                }
            }
            return 0;
        });
        return command;
    }
}
