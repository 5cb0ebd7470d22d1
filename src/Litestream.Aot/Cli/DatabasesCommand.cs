using System.CommandLine;
using System.Text.Json;
using Litestream.Aot.Config;
using Litestream.Aot.Directories;
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
                DbStatusRow status = await StatusCommand.GetStatusAsync(db).ConfigureAwait(false);
                // A replicas: list: one row per replica, with its name.
                foreach (ReplicaConfig section in db.ReplicaSections())
                {
                    ReplicaSettings s = db.ToReplicaSettings(cfg.ReplicaDefaults, section);
                    rows.Add(new DatabaseRow(db.Path!, ReplicaTarget.Describe(s), status.LagSeconds, status.Status == "behind", db.Replicas is null ? null : section.DisplayName(cfg.ReplicaDefaults)));
                }
            }
            if (result.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(rows, LitestreamJsonContext.Default.ListDatabaseRow));
                return 0;
            }
            // Upstream's two columns; the lag only while a replicate process reports it.
            // A database with several replicas names each ("name: replica").
            bool lag = rows.Exists(r => r.LagSeconds is not null);
            var table = lag ? new TextTable("path", "replica", "lag") : new TextTable("path", "replica");
            foreach (DatabaseRow row in rows)
            {
                string replica = row.Name is null ? row.Replica : $"{row.Name}: {row.Replica}";
                if (lag)
                {
                    table.Add(row.Path, replica, row.Behind ? $"behind ({ReplicationLag.Format(row.LagSeconds)})" : ReplicationLag.Format(row.LagSeconds));
                }
                else
                {
                    table.Add(row.Path, replica);
                }
            }
            table.WriteTo(Console.Out);
            return 0;
        });
        return command;
    }
}
