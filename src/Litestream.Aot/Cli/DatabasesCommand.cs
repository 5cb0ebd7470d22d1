using System.CommandLine;
using System.Text.Json;
using Litestream.Aot.Config;
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
        var command = new Command("databases", "list databases in the config") { json, config, noExpandEnv };
        command.SetAction(result =>
        {
            LitestreamConfig cfg = ReplicaTarget.LoadConfig(result.GetValue(config), !result.GetValue(noExpandEnv));
            var rows = new List<DatabaseRow>();
            foreach (DbConfig db in cfg.Dbs)
            {
                ReplicaSettings s = (db.Replica ?? new ReplicaConfig()).ToSettings(cfg.ReplicaDefaults);
                rows.Add(new DatabaseRow(db.Path!, ReplicaTarget.Describe(s)));
            }
            if (result.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(rows, LitestreamJsonContext.Default.ListDatabaseRow));
                return 0;
            }
            var table = new TextTable("path", "replica");
            foreach (DatabaseRow row in rows)
            {
                table.Add(row.Path, row.Replica);
            }
            table.WriteTo(Console.Out);
            return 0;
        });
        return command;
    }
}
