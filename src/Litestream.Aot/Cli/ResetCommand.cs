using System.CommandLine;
using Litestream.Aot.Config;
using Litestream.Replication;

namespace Litestream.Aot.Cli;

/// <summary>
/// <c>litestream reset [-dry-run] DB_PATH</c> (upstream cmd/litestream/reset.go): deletes the database's local
/// LTX files so the next replication run starts over with a snapshot. The database itself is not touched.
/// Works without a config file (then the default meta directory is used).
/// </summary>
internal static class ResetCommand
{
    public static Command Build()
    {
        Argument<string> path = new("path") { Description = "the database whose local state to clear", HelpName = "DB_PATH" };
        Option<bool> dryRun = CommonOptions.Create<bool>("dry-run", "list the local files that would be removed, remove nothing");
        Option<string?> config = CommonOptions.Config();
        Option<bool> noExpandEnv = CommonOptions.NoExpandEnv();
        var command = new DocumentedCommand("reset", "clear local replication state so the next sync writes a snapshot",
            "Deletes a database's local LTX files from its meta directory so the next sync starts over with a full "
            + "snapshot that continues the replica's TXIDs. Use it when the local state is damaged (replicate says so, "
            + "with this hint). The database file and the replica are not touched, and a database that another process "
            + "is replicating is refused.",
            new("clear the local state of a database", "litestream reset /var/lib/app.db"),
            new("list what would be deleted, delete nothing", "litestream reset -dry-run /var/lib/app.db"))
        {
            path, dryRun, config, noExpandEnv,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            string dbPath = Path.GetFullPath(result.GetValue(path)!);
            string? configPath = result.GetValue(config);
            // A missing config file is fine (reset works on any database); a broken one is not.
            DbConfig? dbConfig = configPath is not null || File.Exists(ConfigLoader.ResolvePath(null))
                ? ReplicaTarget.FindDatabase(ReplicaTarget.LoadConfig(configPath, !result.GetValue(noExpandEnv)), dbPath)
                : null;
            if (!File.Exists(dbPath))
            {
                throw new CommandException($"database does not exist: {dbPath}", "pass the path of an existing database file");
            }
            var db = new Db(dbPath, dbConfig?.ToDbOptions());
            await using (db.ConfigureAwait(false))
            {
                return Reset(db, result.GetValue(dryRun));
            }
        });
        return command;
    }

    private static int Reset(Db db, bool dryRun)
    {
        string ltxDirectory = Path.Combine(db.MetaPath, "ltx");
        if (!Directory.Exists(db.MetaPath))
        {
            Console.WriteLine($"No local state to reset for {db.Path}");
            Console.WriteLine($"Meta directory does not exist: {db.MetaPath}");
            return 0;
        }
        if (dryRun)
        {
            string[] files = Directory.Exists(ltxDirectory) ? Directory.GetFiles(ltxDirectory, "*", SearchOption.AllDirectories) : [];
            Array.Sort(files, StringComparer.Ordinal);
            Console.WriteLine($"Dry run: local Litestream state would be reset for: {db.Path}");
            Console.WriteLine($"Would remove: {ltxDirectory}");
            if (files.Length == 0)
            {
                Console.WriteLine("No local LTX files would be removed.");
                return 0;
            }
            Console.WriteLine("Files that would be removed:");
            foreach (string file in files)
            {
                Console.WriteLine($"  {file}");
            }
            Console.WriteLine("No files were removed.");
            return 0;
        }
        // Through the Db: it refuses while a replicator holds the database (its files would vanish under it).
        // Many thousands of files can take a while: a progress line on a terminal.
        string[] all = Directory.Exists(ltxDirectory) ? Directory.GetFiles(ltxDirectory, "*", SearchOption.AllDirectories) : [];
        using (ProgressLine? progress = ProgressLine.Start("removing", all.Sum(f => new FileInfo(f).Length), all.Length))
        {
            db.ResetLocalState(progress is null ? null : size =>
            {
                progress.AddBytes(size);
                progress.AddFile();
            });
        }
        Console.WriteLine($"Resetting local Litestream state for: {db.Path}");
        Console.WriteLine($"Removing: {ltxDirectory}");
        Console.WriteLine("Reset complete. Next replication sync will create a fresh snapshot.");
        return 0;
    }
}
