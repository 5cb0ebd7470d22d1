using Litestream.Aot.Config;
using Litestream.Restore;
using Litestream.Storage;

namespace Litestream.Aot.Cli;

/// <summary>
/// <c>restore [-o DIR] DIR</c> for a <c>dir:</c> entry of the config: every database the directory's replica holds,
/// each restored to <c>DIR/&lt;its relative path&gt;</c> exactly as <c>restore</c> restores one, several at once.
/// The databases are found in the replica, not on disk, so a lost directory comes back whole.
/// </summary>
internal static class DirectoryRestore
{
    /// <summary>Databases restored at once; each one's downloads share what -parallelism allows.</summary>
    private const int MaxDatabasesAtOnce = 4;

    /// <summary>The <c>dir:</c> entry whose directory is <paramref name="target"/>, or null (then it is a database or URL).</summary>
    public static DbConfig? Find(string target, string? configPath, bool expandEnv)
    {
        string full = Path.GetFullPath(target);
        if (!File.Exists(ConfigLoader.ResolvePath(configPath)) || File.Exists(full))
        {
            return null;
        }
        LitestreamConfig config = ReplicaTarget.LoadConfig(configPath, expandEnv);
        return config.Dbs.Find(d => d.Dir == full);
    }

    public static async Task<int> RunAsync(RestoreCommand.Arguments a, DbConfig dirEntry, string output, CancellationToken cancellationToken)
    {
        LitestreamConfig config = ReplicaTarget.LoadConfig(a.ConfigPath, a.ExpandEnv);
        ReplicaSettings settings = (dirEntry.Replica ?? new ReplicaConfig()).ToSettings(config.ReplicaDefaults);
        List<string> databases = FindInReplica(ReplicaClientFactory.WithUrl(settings), dirEntry);
        if (databases.Count == 0)
        {
            if (a.IfReplicaExists)
            {
                Console.Error.WriteLine($"no backups found on replica, skipping: {ReplicaTarget.Describe(settings)}");
                return 0;
            }
            throw new CommandException($"no database backups found under {ReplicaTarget.Describe(settings)}", "check the dir: entry's replica, or pass -if-replica-exists");
        }
        int atOnce = Math.Min(MaxDatabasesAtOnce, a.Parallelism);
        int each = Math.Max(1, a.Parallelism / atOnce);
        var failures = new List<string>();
        // One line for all of them (each restore counts into it), so parallel restores do not draw over each other.
        using (ProgressLine? progress = a.DryRun ? null : ProgressLine.Start("restoring"))
        {
            if (progress is not null)
            {
                progress.CountDatabases(databases.Count);
                await AddPlannedTotalsAsync(a, dirEntry, databases, progress, cancellationToken).ConfigureAwait(false);
            }
            await Parallel.ForEachAsync(databases, new ParallelOptions { MaxDegreeOfParallelism = atOnce, CancellationToken = cancellationToken }, async (relative, token) =>
            {
                string source = Path.Join(dirEntry.Dir, relative);
                string destination = Path.Join(output, relative);
                try
                {
                    await RestoreCommand.RunAsync(a with { Target = source, Output = destination, Parallelism = each }, progress, token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException && !token.IsCancellationRequested)
                {
                    string line = $"{destination}: not restored: {e.Message}";
                    lock (failures)
                    {
                        failures.Add(line);
                    }
                    ProgressLine.WriteLineAbove($"error: {line}");
                }
                finally
                {
                    progress?.DatabaseDone();
                }
            }).ConfigureAwait(false);
        }
        if (failures.Count > 0)
        {
            throw new CommandException($"restored {databases.Count - failures.Count} of {databases.Count} database(s) into {output}; {failures.Count} failed (listed above)", "fix the cause and run the restore again with -if-db-not-exists to restore only what is missing");
        }
        Console.Error.WriteLine($"restored {databases.Count} database(s) into {output}");
        return 0;
    }

    /// <summary>
    /// Adds every database's restore plan (bytes and files) to the line's totals before any starts, so the percentage and
    /// ETA cover the whole directory. A database whose plan fails here adds nothing: its restore reports why.
    /// </summary>
    private static async Task AddPlannedTotalsAsync(RestoreCommand.Arguments a, DbConfig dirEntry, List<string> databases, ProgressLine progress, CancellationToken cancellationToken)
    {
        foreach (string relative in databases)
        {
            try
            {
                (IReplicaClient client, _, _) = ReplicaTarget.Resolve(Path.Join(dirEntry.Dir, relative), a.ConfigPath, a.ExpandEnv);
                await using (client.ConfigureAwait(false))
                {
                    await client.InitAsync(cancellationToken).ConfigureAwait(false);
                    RestorePlan source = await RestorePlan.CreateAsync(client, a.Txid, a.Timestamp, cancellationToken).ConfigureAwait(false);
                    progress.AddTotal(source.Files.Sum(f => f.Size), source.Files.Count);
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Counted as nothing: the restore itself plans again and reports the failure with its hint.
            }
        }
    }

    /// <summary>
    /// The relative paths of the databases under a directory replica: each folder holding an <c>ltx</c> folder is one
    /// database's replica (upstream's layout, <c>&lt;path&gt;/&lt;relative path&gt;/ltx/&lt;level&gt;/…</c>), kept when
    /// its name matches the entry's pattern.
    /// </summary>
    private static List<string> FindInReplica(ReplicaSettings settings, DbConfig dirEntry)
    {
        if (settings.Type is not (null or "file") || string.IsNullOrEmpty(settings.Path))
        {
            throw new CommandException(
                $"restoring a whole directory is supported from file replicas only here, not {settings.Type}",
                $"restore each database: litestream restore -o OUT {Path.Join(dirEntry.Dir, "NAME.db")}");
        }
        string root = Path.GetFullPath(settings.Path);
        var found = new List<string>();
        if (!Directory.Exists(root))
        {
            return found;
        }
        var folders = new Stack<string>();
        folders.Push(root);
        while (folders.Count > 0)
        {
            foreach (DirectoryInfo sub in new DirectoryInfo(folders.Pop()).EnumerateDirectories())
            {
                if (sub.LinkTarget is not null)
                {
                    continue;
                }
                if (Directory.Exists(Path.Join(sub.FullName, "ltx")) && dirEntry.Glob!.IsMatch(sub.Name))
                {
                    found.Add(Path.GetRelativePath(root, sub.FullName));
                }
                else if (dirEntry.Recursive)
                {
                    folders.Push(sub.FullName);
                }
            }
        }
        found.Sort(StringComparer.Ordinal);
        return found;
    }
}
