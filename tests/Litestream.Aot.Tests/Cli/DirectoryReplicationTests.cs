using System.Text.RegularExpressions;

namespace Litestream.Aot.Tests.Cli;

/// <summary>
/// <c>dir:</c> entries on the published exe (upstream's directory replication): databases in nested folders replicated
/// under their relative paths, one created while running picked up, a non-SQLite file matching the pattern warned
/// about once, a deleted one stopped with its replica kept, and the whole directory restored from its replica.
/// </summary>
[Requires(Need.Exe, Need.Python)]
public class DirectoryReplicationTests
{
    // Each database's rows numbered from its own start, so a database restored from another's replica differs.
    private static void Write(string db, int rows, int start) => SqliteWriter.Write(db, rows, start);

    [RequiresFact]
    public void ReplicateDir_RecursiveWatch_ReplicatesNestedNewAndDeletedDatabasesAndRestoresTheWholeDirectory()
    {
        string root = Path.Combine(TestRepo.TempDir(), "tenants");
        string replica = Path.Combine(Path.GetDirectoryName(root)!, "replica");
        string a = Path.Combine(root, "a.db"), b = Path.Combine(root, "eu", "b.db"), c = Path.Combine(root, "eu", "fr", "c.db");
        string notSqlite = Path.Combine(root, "eu", "notes.db");
        Directory.CreateDirectory(Path.GetDirectoryName(c)!);
        Write(a, 5, start: 1000);
        Write(b, 3, start: 2000);
        Write(c, 4, start: 3000);
        File.WriteAllText(notSqlite, "not a database\n");
        File.WriteAllText(Path.Combine(root, "readme.txt"), "ignored: does not match the pattern\n");
        // A symbolic link back to the top: recursive scans and the watch must not follow it (no loop, no second copy).
        File.CreateSymbolicLink(Path.Combine(root, "eu", "loop"), root);
        string config = Path.Combine(Path.GetDirectoryName(root)!, "c.yml");
        File.WriteAllText(config, $"dbs:\n  - dir: {root}\n    pattern: \"*.db\"\n    recursive: true\n    watch: true\n    replica:\n      url: file://{replica}\n");

        // databases: what the entry expands to, each under its own replica path; the text file is not one of them.
        ProcessResult listed = Exe.Run("databases", "-config", config);
        Assert.Equal(0, listed.ExitCode);
        Assert.Equal(
            [$"{a} {replica}/a.db", $"{b} {replica}/eu/b.db", $"{c} {replica}/eu/fr/c.db"],
            listed.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(l => Regex.Replace(l.Trim(), " +", " ")).Select(l => l.Replace("file://", "")));

        using BackgroundProcess daemon = Exe.Start("replicate", "-config", config);
        Wait.Until(() => new[] { "a.db", "eu/b.db", "eu/fr/c.db" }.All(r => HasL0(replica, r)), "the three databases to reach their replica paths", daemon);

        // A database created while running, in a folder created while running.
        string d = Path.Combine(root, "us", "new", "d.db");
        Directory.CreateDirectory(Path.GetDirectoryName(d)!);
        Write(d, 6, start: 4000);
        Wait.Until(() => HasL0(replica, "us/new/d.db"), "the new database to be replicated", daemon);

        // Deleted while running: its replication stops (one line), its replica stays and restores to what it held.
        string cBefore = SqliteWriter.Dump(c);
        foreach (string file in new[] { c, c + "-wal", c + "-shm" })
        {
            File.Delete(file);
        }
        Wait.Until(() => daemon.Output.Contains($"{c}: removed from replication (deleted); its replica is kept"), "the deleted database to stop", daemon);
        Assert.True(HasL0(replica, "eu/fr/c.db"));

        // More commits and more files in notes.db's folder (a new subfolder is scanned too): still one WARN for it.
        Write(a, 2, start: 1005);
        File.WriteAllText(Path.Combine(root, "eu", "other.txt"), "x");
        Directory.CreateDirectory(Path.Combine(root, "eu", "later"));
        File.WriteAllText(Path.Combine(root, "eu", "later", "junk.db"), "also not a database");
        Wait.Until(() => daemon.Output.Contains("junk.db: matches pattern"), "the WARN for a non-database created while running", daemon);
        Assert.Equal(0, daemon.Stop());
        string output = daemon.Output;
        Assert.Single(Regex.Matches(output, Regex.Escape($"{notSqlite}: matches pattern \"*.db\" but is not a SQLite database")));
        Assert.True(!output.Contains("ERROR", StringComparison.Ordinal), output);
        // The watch read no replicated database's header: that drops this process's SQLite locks on it (see DatabaseDirectoryTests).
        Assert.DoesNotContain("WAL was deleted or replaced", output);
        Assert.Contains($"{root}: 3 database(s) matching \"*.db\" (recursive), watching for more", output);
        Assert.Contains($"{d}: added to replication", output);

        // restore DIR: every database of the replica, at its relative path, equal to its source.
        string restored = Path.Combine(Path.GetDirectoryName(root)!, "restored");
        ProcessResult restore = Exe.Run("restore", "-config", config, "-o", restored, root);
        Assert.True(restore.ExitCode == 0, restore.Stderr);
        Assert.EndsWith($"restored 4 database(s) into {restored}\n", restore.Stderr);
        Assert.Equal(SqliteWriter.Dump(a), SqliteWriter.Dump(Path.Combine(restored, "a.db")));
        Assert.Equal(SqliteWriter.Dump(b), SqliteWriter.Dump(Path.Combine(restored, "eu", "b.db")));
        Assert.Equal(cBefore, SqliteWriter.Dump(Path.Combine(restored, "eu", "fr", "c.db")));
        Assert.Equal(SqliteWriter.Dump(d), SqliteWriter.Dump(Path.Combine(restored, "us", "new", "d.db")));
        Assert.StartsWith("ok 6 ", SqliteWriter.Dump(Path.Combine(restored, "us", "new", "d.db")));
    }

    [RequiresFact]
    public void ReplicateDir_NotWatchedAndEmpty_FailsAsUpstream()
    {
        string root = Path.Combine(TestRepo.TempDir(), "empty");
        Directory.CreateDirectory(root);
        string config = Path.Combine(root, "..", "c.yml");
        File.WriteAllText(config, $"dbs:\n  - dir: {root}\n    pattern: \"*.db\"\n    replica:\n      url: file://{root}-replica\n");
        ProcessResult r = Exe.Run("replicate", "-config", config);
        Assert.Equal((1, $"error: no SQLite databases found in directory {root} with pattern *.db\nhint: set watch: true to wait for databases to appear, or fix dir:/pattern:\n"), (r.ExitCode, r.Stderr));
    }

    private static bool HasL0(string replica, string relative)
    {
        string level0 = Path.Combine(replica, relative, "ltx", "0");
        return Directory.Exists(level0) && Directory.EnumerateFiles(level0, "*.ltx").Any();
    }
}
