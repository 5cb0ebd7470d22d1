using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Litestream.Aot.Control;
using Litestream.Ltx;
using Litestream.Restore;
using Litestream.Aot.Config;
using Litestream.Storage;
using Microsoft.Extensions.Logging;

namespace Litestream.Aot.Cli;

/// <summary><c>litestream restore [flags] DB_PATH|REPLICA_URL</c> (upstream cmd/litestream/restore.go).</summary>
internal static class RestoreCommand
{
    public static Command Build()
    {
        Argument<string> target = new("target") { Description = "database path (from the config) or replica URL", HelpName = "DB_PATH|REPLICA_URL" };
        Option<string?> output = CommonOptions.Create<string?>("o", "output path (required for a replica URL; default: the database path)");
        Option<string?> txid = CommonOptions.Create<string?>("txid", "restore up to this TXID (16 hex digits)");
        Option<string?> timestamp = CommonOptions.Create<string?>("timestamp", "restore the state at this time (RFC 3339)");
        Option<int> parallelism = CommonOptions.CreateInt("parallelism", "downloads at once: files fetched ahead, or parts of a large file", defaultValue: 8, minimum: 1);
        Option<bool> ifDbNotExists = CommonOptions.Create<bool>("if-db-not-exists", "do nothing (exit 0) if the output database exists");
        Option<bool> ifReplicaExists = CommonOptions.Create<bool>("if-replica-exists", "do nothing (exit 0) if the replica has no backup");
        Option<bool> dryRun = CommonOptions.Create<bool>("dry-run", "print the restore plan, write nothing");
        Option<bool> force = CommonOptions.Create<bool>("force", "replace an existing output database");
        Option<string?> integrity = CommonOptions.Create<string?>("integrity-check", "none, quick (default) or full");
        Option<bool> follow = CommonOptions.Create<bool>("f", "follow: keep the restored database current (Ctrl-C to stop)");
        Option<string?> followInterval = CommonOptions.Create<string?>("follow-interval", "poll interval in follow mode (1s)");
        Option<bool> json = CommonOptions.Json();
        Option<string?> replica = CommonOptions.Create<string?>("replica", "restore from the replica of this name (a database with a replicas: list; default: the reachable one with the newest TXID)");
        Option<string?> config = CommonOptions.Config();
        Option<bool> noExpandEnv = CommonOptions.NoExpandEnv();
        var command = new DocumentedCommand("restore", "restore a database from its replica",
            "Rebuilds a database from its replica: a database path is looked up in the config file, or a replica URL is "
            + "given with -o for the output. The newest state is restored unless -txid or -timestamp names an earlier "
            + "one. The database is written to a temporary file beside the output, verified (every LTX checksum, then "
            + "SQLite's quick_check unless -integrity-check says otherwise), fsynced and renamed into place, so a failed or "
            + "interrupted restore leaves nothing behind. An existing output is never replaced without -force. With -f it "
            + "keeps the restored copy current until stopped; -json then prints what the daemon's event stream "
            + "does ('litestream events -json'): an init line with the TXID restored, then a tx line for each transaction applied.",
            new("restore a configured database to its own path (the file must not exist)", "litestream restore /var/lib/app.db"),
            new("restore the state as of a point in time to another file", "litestream restore -timestamp 2026-01-01T00:00:00Z -o /tmp/app.db /var/lib/app.db"),
            new("restore straight from an S3 replica and print the result as JSON", "litestream restore -json -o /tmp/app.db s3://mybucket/app.db"))
        {
            target, output, txid, timestamp, parallelism, ifDbNotExists, ifReplicaExists, dryRun, force, integrity, follow, followInterval, json, replica, config, noExpandEnv,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            var options = new Arguments(
                result.GetValue(target)!, result.GetValue(output), ParseTxid(result.GetValue(txid)), ParseTimestamp(result.GetValue(timestamp)),
                result.GetValue(parallelism), result.GetValue(ifDbNotExists), result.GetValue(ifReplicaExists), result.GetValue(dryRun),
                result.GetValue(force), ParseIntegrity(result.GetValue(integrity)), result.GetValue(json), result.GetValue(config), !result.GetValue(noExpandEnv),
                result.GetValue(follow), ParseInterval(result.GetValue(followInterval)), result.GetValue(replica));
            return await RunAsync(options, cancellationToken).ConfigureAwait(false);
        });
        return command;
    }

    internal sealed record Arguments(
        string Target, string? Output, Txid Txid, DateTimeOffset? Timestamp, int Parallelism, bool IfDbNotExists, bool IfReplicaExists,
        bool DryRun, bool Force, IntegrityCheck Integrity, bool Json, string? ConfigPath, bool ExpandEnv,
        bool Follow = false, TimeSpan FollowInterval = default, string? Replica = null);

    internal static Task<int> RunAsync(Arguments a, CancellationToken cancellationToken) => RunAsync(a, null, cancellationToken);

    /// <summary>
    /// The restore <paramref name="a"/> asks for; its bytes and files counted into <paramref name="shared"/> when several
    /// databases share one progress line (<see cref="DirectoryRestore"/>), else into a line of its own on a terminal.
    /// </summary>
    internal static async Task<int> RunAsync(Arguments a, ProgressLine? shared, CancellationToken cancellationToken)
    {
        if (!a.Txid.IsZero && a.Timestamp is not null)
        {
            throw new UsageException("cannot specify both -txid and -timestamp", "pick one restore target");
        }
        if (a.Parallelism < 1)
        {
            throw new UsageException($"-parallelism must be at least 1, got {a.Parallelism}");
        }
        bool isUrl = ReplicaUrl.IsUrl(a.Target);
        if (isUrl && a.Replica is not null)
        {
            throw new UsageException("-replica names a replica of a database in the config, not of a replica URL", "pass the database path with -config, or drop -replica");
        }
        if (!isUrl && !a.Follow && DirectoryRestore.Find(a.Target, a.ConfigPath, a.ExpandEnv) is { } dirEntry)
        {
            // A dir: entry: every database in its replica, into -o DIR (default: the directory itself).
            return await DirectoryRestore.RunAsync(a, dirEntry, Path.GetFullPath(a.Output ?? dirEntry.Dir!), cancellationToken).ConfigureAwait(false);
        }
        string? output = a.Output;
        if (output is null)
        {
            if (isUrl)
            {
                throw new UsageException("output path required when restoring from a replica URL", "add -o PATH");
            }
            output = Path.GetFullPath(a.Target);
        }
        output = Path.GetFullPath(output);
        if (a.Follow && (!a.Txid.IsZero || a.Timestamp is not null || a.DryRun))
        {
            throw new UsageException("-f cannot be combined with -txid, -timestamp or -dry-run", "follow mode always tracks the latest state");
        }
        try
        {
            return a.Follow
                ? await FollowAsync(a, output, cancellationToken).ConfigureAwait(false)
                : await RestoreAsync(a, output, shared, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (cancellationToken.IsCancellationRequested && e is not CommandInterruptedException)
        {
            // Whatever a signal cut short (a download, the integrity check), the restore renames its temp file
            // into place only as its last step and deletes it on any failure.
            throw new CommandInterruptedException($"nothing was written to {output}", e);
        }
    }

    private static async Task<int> RestoreAsync(Arguments a, string output, ProgressLine? shared, CancellationToken cancellationToken)
    {
        if (a.IfDbNotExists && File.Exists(output))
        {
            ProgressLine.WriteLineAbove($"database already exists, skipping: {output}");
            return 0;
        }
        (IReplicaClient client, string description, var config, RestorePlan? chosen) = await ChooseReplicaAsync(a, cancellationToken).ConfigureAwait(false);
        // v0.3 generations written with age: recipients decrypt with the replica's age: identities.
        IReadOnlyList<string> ageIdentities = config is { } c ? c.Replica.AgeIdentities(c.Defaults) : [];
        LtxKeyRing? keys = config is { } section ? EncryptionKeys(section.Replica, section.Defaults) : null;
        await using (client.ConfigureAwait(false))
        {
            long started = Stopwatch.GetTimestamp();
            RestorePlan source;
            try
            {
                if (chosen is null)
                {
                    await client.InitAsync(cancellationToken).ConfigureAwait(false);
                }
                source = chosen ?? await RestorePlan.CreateAsync(client, a.Txid, a.Timestamp, cancellationToken).ConfigureAwait(false);
            }
            catch (NoBackupException) when (a.IfReplicaExists)
            {
                ProgressLine.WriteLineAbove($"no backups found on replica, skipping: {description}");
                return 0;
            }
            catch (TxNotAvailableException) when (a.Timestamp is { } timestamp)
            {
                throw new CommandException(
                    $"no state at or before {timestamp.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)} on the replica: every file it holds is newer",
                    $"'litestream ltx -level all {a.Target}' lists each file's created time; pick a later -timestamp");
            }
            catch (TxNotAvailableException e)
            {
                throw new CommandException(e.Message, $"'litestream ltx -level all {a.Target}' lists the TXIDs the replica holds");
            }
            if (a.DryRun)
            {
                if (source.Legacy)
                {
                    Console.WriteLine("restoring from litestream v0.3 generations (newest snapshot and its wal segments)");
                }
                else
                {
                    LtxCommand.Print([.. source.Files.Select(LtxCommand.ToRow)], a.Json);
                }
                return 0;
            }
            var options = new RestoreOptions
            {
                OutputPath = output,
                Txid = a.Txid,
                Timestamp = a.Timestamp,
                Parallelism = a.Parallelism,
                IntegrityCheck = a.Integrity,
                Force = a.Force,
                AgeIdentities = ageIdentities,
                Encryption = keys,
            };
            RestoreResult restored;
            using (ProgressLine? own = source.Legacy || shared is not null ? null : ProgressLine.Start("restoring", source.Files.Sum(f => f.Size), source.Files.Count))
            {
                ProgressLine? progress = source.Legacy ? null : shared ?? own;
                IReplicaClient counted = progress is null ? client : new ProgressReplicaClient(client, progress);
                restored = await Restorer.RestoreAsync(counted, source, options, cancellationToken).ConfigureAwait(false);
            }
            long bytes = (long)restored.Commit * restored.PageSize;
            ProgressLine.WriteLineAbove(restored.LegacyGeneration is { } generation
                ? $"restored {output} from v0.3 generation {generation} ({bytes} bytes)"
                : $"restored {output} to txid {restored.Txid} from {restored.Plan.Count} file(s) ({bytes} bytes)");
            if (restored.UnencryptedFiles > 0)
            {
                Warn($"{restored.UnencryptedFiles} of {restored.Plan.Count} restored file(s) were not encrypted although an encryption key is configured (written before encryption was switched on, or by a replicator without the key)");
            }
            if (a.Json)
            {
                // Upstream's fields (db_path … integrity_check), then what a script needs to check it: bytes and files.
                var summary = new RestoreSummary(output, client.Type, restored.LegacyGeneration is null ? restored.Txid.ToString() : "",
                    (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds, IntegrityName(a.Integrity), bytes, restored.Plan.Count, restored.LegacyGeneration);
                Console.WriteLine(JsonSerializer.Serialize(summary, LitestreamJsonContext.Indented.RestoreSummary));
            }
        }
        return 0;
    }

    /// <summary>The replica's encryption keys (null: a plain replica), after warning about what reading them found (a key file others may read).</summary>
    private static LtxKeyRing? EncryptionKeys(ReplicaConfig replica, ReplicaConfig defaults)
    {
        foreach (string warning in (replica.Encryption ?? defaults.Encryption)?.Warnings ?? [])
        {
            Warn(warning);
        }
        return replica.EncryptionKeys(defaults);
    }

    /// <summary>The warning for a replica <see cref="ReplicaChoice"/> could not read while another had a backup.</summary>
    internal static string Unreadable(ReplicaChoice.Candidate replica, Exception error)
        => $"replica {replica.Name} ({replica.Description}) could not be read: {error.Message}";

    private static void Warn(string message)
        => new ConsoleLogger(LogLevel.Warning).Log(LogLevel.Warning, default, message, null, static (s, _) => s);

    /// <summary>
    /// The replica to restore from: the one named by <c>-replica</c>, the only one, or (several, none named) the
    /// reachable one with the newest TXID, said on stderr; with that choice comes its plan. The others' clients are disposed.
    /// </summary>
    private static async Task<(IReplicaClient Client, string Description, (Config.ReplicaConfig Replica, Config.ReplicaConfig Defaults)? Config, RestorePlan? Source)> ChooseReplicaAsync(
        Arguments a, CancellationToken cancellationToken)
    {
        var all = ReplicaTarget.ResolveAll(a.Target, a.ConfigPath, a.ExpandEnv);
        var keep = all[0];
        RestorePlan? source = null;
        bool chosen = false;
        try
        {
            if (a.Replica is { } name)
            {
                keep = all.Find(r => r.Name == name);
                if (keep.Client is null)
                {
                    throw new CommandException($"no replica named \"{name}\" for {Path.GetFullPath(a.Target)}", $"its replicas: {string.Join(", ", all.Select(r => r.Name))}");
                }
            }
            else if (all.Count > 1)
            {
                var logger = new ConsoleLogger(Microsoft.Extensions.Logging.LogLevel.Information);
                ReplicaChoice.Candidate newest = await ReplicaChoice.NewestAsync(
                    [.. all.Select(r => new ReplicaChoice.Candidate(r.Name, r.Client, r.Description))], a.Txid, a.Timestamp,
                    (replica, e) => Log(logger, Microsoft.Extensions.Logging.LogLevel.Warning, Unreadable(replica, e)), cancellationToken).ConfigureAwait(false);
                keep = all.Find(r => r.Name == newest.Name);
                source = newest.Plan;
                Log(logger, Microsoft.Extensions.Logging.LogLevel.Information, $"restoring from replica {newest.Name} ({newest.Description}): the newest reachable, at txid {newest.Txid}");
            }
            chosen = true;
        }
        finally
        {
            foreach (var other in all.Where(r => !chosen || r.Client != keep.Client))
            {
                await other.Client.DisposeAsync().ConfigureAwait(false);
            }
        }
        return (keep.Client, keep.Description, keep.Config, source);
    }

    private static void Log(ConsoleLogger logger, Microsoft.Extensions.Logging.LogLevel level, string message)
        => logger.Log(level, default, message, null, static (m, _) => m);

    private static async Task<int> FollowAsync(Arguments a, string output, CancellationToken cancellationToken)
    {
        (IReplicaClient client, _, var config, _) = await ChooseReplicaAsync(a, cancellationToken).ConfigureAwait(false);
        LtxKeyRing? keys = config is { } section ? EncryptionKeys(section.Replica, section.Defaults) : null;
        await using (client.ConfigureAwait(false))
        {
            var logger = new ConsoleLogger(LogLevel.Information);
            var options = new RestoreOptions { OutputPath = output, Parallelism = a.Parallelism, IntegrityCheck = a.Integrity, Encryption = keys };
            // A signal during the first restore interrupts it (the caller reports it); once following, a
            // signal is the normal way to stop (upstream: "follow mode stopped"), exit 0.
            Follower follower;
            using (ProgressLine? restoring = Follower.Resumes(output) ? null : ProgressLine.Start("restoring"))
            {
                follower = await Follower.StartAsync(client, options, logger, cancellationToken, restoring).ConfigureAwait(false);
            }
            await using (follower.ConfigureAwait(false))
            {
                Console.Error.WriteLine($"following {output} from txid {follower.Txid}");
                if (a.Json)
                {
                    // The daemon's /events lines: init with the TXID restored, then tx for each transaction applied.
                    Console.Out.Write(EventStream.FollowerInit(output, follower.Txid));
                    Console.Out.Flush();
                    follower.Applied = e =>
                    {
                        Console.Out.Write(EventStream.Format(e));
                        Console.Out.Flush();
                    };
                }
                // On a terminal, one line that keeps the position in view between the log lines of each file applied.
                using ProgressLine? following = ProgressLine.StartStatus("following", () =>
                    $"txid {follower.Txid}, {follower.FilesApplied} file(s) applied ({ProgressLine.Size(follower.BytesApplied)})");
                try
                {
                    await follower.RunAsync(a.FollowInterval, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                }
            }
        }
        return 0;
    }

    private static TimeSpan ParseInterval(string? text)
        => text is null ? TimeSpan.FromSeconds(1)
            : Config.ConfigValues.TryParseDuration(text, out TimeSpan value) && value > TimeSpan.Zero ? value
            : throw new UsageException($"invalid -follow-interval \"{text}\"", "e.g. -follow-interval 500ms");

    private static Txid ParseTxid(string? text)
        => text is null ? Txid.Zero
            : Txid.TryParse(text, out Txid txid) ? txid
            : throw new UsageException($"invalid -txid \"{text}\": expected 16 hex digits", "e.g. -txid 000000000000002a");

    private static DateTimeOffset? ParseTimestamp(string? text)
        => text is null ? null
            : DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out DateTimeOffset t) && text.Contains('T')
                ? t
                : throw new UsageException($"invalid -timestamp \"{text}\": expected RFC 3339", "e.g. -timestamp 2026-11-23T10:00:00Z");

    private static string IntegrityName(IntegrityCheck check) => check switch
    {
        IntegrityCheck.None => "none",
        IntegrityCheck.Full => "full",
        _ => "quick",
    };

    private static IntegrityCheck ParseIntegrity(string? text) => text switch
    {
        null or "quick" => IntegrityCheck.Quick,
        "none" => IntegrityCheck.None,
        "full" => IntegrityCheck.Full,
        _ => throw new UsageException($"invalid -integrity-check \"{text}\"", "use none, quick or full"),
    };
}
