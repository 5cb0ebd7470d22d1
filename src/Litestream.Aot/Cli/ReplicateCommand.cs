using System.CommandLine;
using System.Diagnostics;
using Litestream.Aot.Config;
using Litestream.Aot.Control;
using Litestream.Aot.Directories;
using Litestream.Aot.Mcp;
using Litestream.Aot.Monitoring;
using Litestream.Ltx;
using Litestream.Replication;
using Litestream.Restore;
using Litestream.Storage;
using Microsoft.Extensions.Logging;

namespace Litestream.Aot.Cli;

/// <summary><c>litestream replicate [flags] [DB_PATH REPLICA_URL]</c> (upstream cmd/litestream/replicate.go).</summary>
internal static class ReplicateCommand
{
    public static Command Build()
    {
        Argument<string[]> positional = new("args") { HelpName = "DB_PATH REPLICA_URL", Description = "DB_PATH REPLICA_URL (ad hoc mode, instead of -config)", Arity = ArgumentArity.ZeroOrMore };
        Option<string?> config = CommonOptions.Config();
        Option<bool> noExpandEnv = CommonOptions.NoExpandEnv();
        Option<string?> exec = CommonOptions.Create<string?>("exec", "run this command and replicate until it exits; exit with its code");
        Option<bool> once = CommonOptions.Create<bool>("once", "sync once and exit (non-zero if anything failed)");
        Option<bool> forceSnapshot = CommonOptions.Create<bool>("force-snapshot", "with -once: write a full snapshot");
        Option<bool> enforceRetention = CommonOptions.Create<bool>("enforce-retention", "with -once: delete snapshots older than snapshot.retention and the files they replace");
        Option<string?> logLevel = CommonOptions.Create<string?>("log-level", "trace, debug, info, warn or error");
        Option<bool> restoreIfMissing = CommonOptions.Create<bool>("restore-if-db-not-exists", "restore each missing database from its replica before replicating");
        Option<string?> leaseWait = CommonOptions.Create<string?>("lease-wait", "with lease.enabled: wait up to this long (e.g. 1m) for another holder's lease instead of exiting");
        var command = new DocumentedCommand("replicate", "replicate databases continuously",
            "Replicates every database in the config file continuously: each commit is captured from the WAL into an LTX "
            + "file and uploaded to the database's replica, and compaction, snapshots and retention run on the config's "
            + "schedule. Given DB_PATH and REPLICA_URL instead of a config, it replicates that one database with the "
            + "defaults. It runs until SIGINT or SIGTERM, makes a final sync, and exits 0 only when every replica holds what "
            + "its database committed. With -once it syncs once and exits; with -exec it runs a command and stops when the "
            + "command exits.",
            new("replicate the databases in /etc/litestream.yml until stopped", "litestream replicate"),
            new("replicate one database to S3 without a config file", "litestream replicate /var/lib/app.db s3://mybucket/app.db"),
            new("sync once, delete snapshots older than snapshot.retention, and exit (cron, serverless)", "litestream replicate -once -enforce-retention -config /etc/litestream.yml"))
        {
            positional, config, noExpandEnv, exec, once, forceSnapshot, enforceRetention, logLevel, restoreIfMissing, leaseWait,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            string[] args = result.GetValue(positional) ?? [];
            string? configPath = result.GetValue(config);
            if (args.Length == 1)
            {
                throw new UsageException("a replica URL is required after the database path", "litestream replicate DB_PATH REPLICA_URL");
            }
            if (args.Length > 2)
            {
                throw new UsageException("only one replica URL is supported in ad hoc mode", "use a config file for more");
            }
            if (args.Length == 2 && configPath is not null)
            {
                throw new UsageException("cannot specify a replica URL and -config together", "use one of them");
            }
            if (result.GetValue(forceSnapshot) && !result.GetValue(once))
            {
                throw new UsageException("-force-snapshot requires -once", "the daemon writes snapshots every snapshot.interval; -once -force-snapshot writes one now");
            }
            if (result.GetValue(enforceRetention) && !result.GetValue(once))
            {
                throw new UsageException("-enforce-retention requires -once", "the daemon enforces snapshot.retention after every snapshot; -once -enforce-retention does it now");
            }
            LitestreamConfig cfg = args.Length == 2 ? AdHoc(args[0], args[1]) : ReplicaTarget.LoadConfig(configPath, !result.GetValue(noExpandEnv), orInstead: "run 'litestream replicate DB_PATH REPLICA_URL'");
            if (cfg.Dbs.Count == 0)
            {
                throw new CommandException("no databases specified in configuration", "add a dbs: entry, or run litestream replicate DB_PATH REPLICA_URL");
            }
            foreach (DbConfig db in cfg.Dbs)
            {
                foreach (ReplicaConfig section in db.ReplicaSections())
                {
                    section.RejectAgeForReplication(cfg.ReplicaDefaults);
                }
            }
            if (result.GetValue(once) && (result.GetValue(exec) ?? cfg.Exec) is not null)
            {
                throw new UsageException("cannot specify -once with -exec", "-once syncs and exits; -exec replicates while the command runs");
            }
            var logger = new ConsoleLogger(ConsoleLogger.ParseLevel(result.GetValue(logLevel) ?? Environment.GetEnvironmentVariable("LOG_LEVEL") ?? cfg.Logging.Level));
            TimeSpan wait = TimeSpan.Zero;
            if (result.GetValue(leaseWait) is { } waitText && (!GoDuration.TryParse(waitText, out wait) || wait < TimeSpan.Zero))
            {
                throw new UsageException($"invalid -lease-wait duration \"{waitText}\"", "a Go duration such as 30s, 2m or 1h30m");
            }
            // The MCP tools run the CLI with the config this run read (none in ad hoc mode or from stdin).
            string? toolConfig = args.Length == 2 || configPath == "-" ? null : Path.GetFullPath(ConfigLoader.ResolvePath(configPath));
            var run = new RunOptions(result.GetValue(exec) ?? cfg.Exec, result.GetValue(once), result.GetValue(forceSnapshot), result.GetValue(enforceRetention), result.GetValue(restoreIfMissing), wait, toolConfig);
            return await RunAsync(cfg, logger, run, cancellationToken).ConfigureAwait(false);
        });
        return command;
    }

    private static LitestreamConfig AdHoc(string dbPath, string url)
    {
        ReplicaTarget.CheckUrlArgument(url);
        return new LitestreamConfig { Dbs = [new DbConfig { Path = Path.GetFullPath(dbPath), Replica = new ReplicaConfig { Url = url } }] };
    }

    /// <summary>What the flags ask of this run.</summary>
    private sealed record RunOptions(string? Exec, bool Once, bool ForceSnapshot, bool EnforceRetention, bool RestoreIfMissing, TimeSpan LeaseWait, string? ConfigPath);

    private static async Task<int> RunAsync(LitestreamConfig cfg, ConsoleLogger logger, RunOptions run, CancellationToken cancellationToken)
    {
        var databases = new List<(string Path, Func<IReadOnlyList<Replica>> Create)>();
        var watched = new List<(DatabaseDirectory Directory, List<string> Found)>();
        // -once of a large snapshot can upload for minutes: a progress line on a terminal says how far it is.
        using ProgressLine? progress = run.Once ? ProgressLine.Start("uploading") : null;
        foreach (DbConfig dbConfig in cfg.Dbs)
        {
            if (dbConfig.Dir is null)
            {
                databases.Add(await DatabaseAsync(dbConfig, cfg, logger, run.ForceSnapshot, run.RestoreIfMissing || dbConfig.RestoreIfDbNotExists, cancellationToken, run.LeaseWait, progress).ConfigureAwait(false));
                continue;
            }
            var directory = new DatabaseDirectory(dbConfig, logger);
            List<string> found = ScanDirectory(directory, watch: dbConfig.Watch && !run.Once);
            foreach (string path in found)
            {
                databases.Add(await DatabaseAsync(dbConfig.ForDatabase(path), cfg, logger, run.ForceSnapshot, restore: false, cancellationToken, run.LeaseWait, progress).ConfigureAwait(false));
            }
            if (dbConfig.Watch)
            {
                watched.Add((directory, found));
            }
        }
        StoreOptions storeOptions = cfg.ToStoreOptions();
        CompactionOptions compaction = cfg.ToCompactionOptions();
        if (run.Once)
        {
            var store = new Store(databases.SelectMany(d => d.Create()), storeOptions, logger, compaction);
            await store.SyncOnceAsync(run.EnforceRetention, cancellationToken).ConfigureAwait(false);
            progress?.Dispose();
            return 0;
        }
        // `litestream register PATH -replica URL`: a database added at run time gets the defaults a dbs: entry
        // with only path and replica.url would get, plus the top-level replica keys.
        Replica Register(string path, string url)
        {
            var replicaConfig = new ReplicaConfig { Url = url };
            ReplicaSettings settings = replicaConfig.ToSettings(cfg.ReplicaDefaults);
            IReplicaClient client = ReplicaTarget.CreateClient(settings, url);
            return new Replica(new Db(path, new DbConfig { Path = path }.ToDbOptions(), logger), client, replicaConfig.ToReplicaOptions(cfg), logger);
        }
        using var daemon = new ReplicationDaemon(storeOptions, compaction, logger, Register);
        // The socket first: a second daemon on the same config must fail before it touches any database.
        await using ControlServer? server = cfg.SocketEnabled ? ControlServer.Start(cfg.SocketPath, cfg.SocketPermissions, daemon, logger) : null;
        if (server is not null && !string.IsNullOrEmpty(cfg.Socket.Addr))
        {
            server.ListenTcp(cfg.Socket.Addr, cfg.Socket.Token!);
        }
        // Metrics are collected from here on; the listener, like the socket, fails before any database is touched.
        using PrometheusExporter? exporter = string.IsNullOrEmpty(cfg.Addr) ? null : new PrometheusExporter();
        await using MonitoringServer? monitoring = exporter is null ? null : MonitoringServer.Start(cfg.Addr!, exporter, daemon, logger);
        await using McpServer? mcp = string.IsNullOrEmpty(cfg.McpAddr) ? null : McpServer.Start(cfg.McpAddr, run.ConfigPath, logger);
        logger.Log(LogLevel.Information, default, $"litestream {BuildInfo.Version} replicating {databases.Count} database(s)", null, static (s, _) => s);
        foreach ((string path, Func<IReadOnlyList<Replica>> create) in databases)
        {
            await daemon.AddAsync(path, create).ConfigureAwait(false);
        }
        using var stopWatching = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task watching = Task.WhenAll(watched.Select(w => WatchAsync(w.Directory, w.Found, daemon, cfg, logger, stopWatching.Token)));
        Task startupPages = StartupPages.ReleaseAfterSettleAsync(stopWatching.Token);
        using var stopHeartbeat = new CancellationTokenSource();
        Task heartbeat = string.IsNullOrEmpty(cfg.HeartbeatUrl) ? Task.CompletedTask
            : new Heartbeat(new Uri(cfg.HeartbeatUrl), cfg.HeartbeatInterval ?? Heartbeat.DefaultInterval, daemon, logger).RunAsync(stopHeartbeat.Token);
        try
        {
            return await RunDaemonAsync(daemon, run.Exec, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            await stopWatching.CancelAsync().ConfigureAwait(false);
            await watching.ConfigureAwait(false);
            await startupPages.ConfigureAwait(false);
            await stopHeartbeat.CancelAsync().ConfigureAwait(false);
            await heartbeat.ConfigureAwait(false);
        }
    }

    /// <summary>Replicates until cancelled, or, with <paramref name="exec"/>, until the child exits (its exit code is returned).</summary>
    private static async Task<int> RunDaemonAsync(ReplicationDaemon daemon, string? exec, CancellationToken cancellationToken)
    {
        if (exec is null)
        {
            await daemon.RunAsync(cancellationToken).ConfigureAwait(false);
            return 0;
        }
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var stopChild = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task replication = daemon.RunAsync(stop.Token);
        Task<int> child = RunChildAsync(exec, stopChild.Token);
        if (await Task.WhenAny(child, replication).ConfigureAwait(false) == replication)
        {
            // Replication ended on its own (another process replicates a database): the child must not run unprotected.
            await stopChild.CancelAsync().ConfigureAwait(false);
            await child.ConfigureAwait(false);
        }
        int code = await child.ConfigureAwait(false);
        await stop.CancelAsync().ConfigureAwait(false);
        await replication.ConfigureAwait(false);
        return code;
    }

    /// <summary>A database of the config: restored first when asked and missing, then how to build its replica (uploads counted in <paramref name="progress"/>).</summary>
    private static async Task<(string Path, Func<IReadOnlyList<Replica>> Create)> DatabaseAsync(DbConfig dbConfig, LitestreamConfig cfg, ConsoleLogger logger, bool forceSnapshot, bool restore, CancellationToken cancellationToken, TimeSpan leaseWait = default, ProgressLine? progress = null)
    {
        // Every replica of the database (a replicas: list has several), each with its own client and settings.
        var targets = new List<(string Name, IReplicaClient Client, ReplicaOptions Options)>();
        foreach (ReplicaConfig replicaConfig in dbConfig.ReplicaSections())
        {
            ReplicaSettings settings = dbConfig.ToReplicaSettings(cfg.ReplicaDefaults, replicaConfig);
            IReplicaClient client = ReplicaTarget.CreateClient(settings, settings.Url ?? settings.Path ?? "");
            string name = replicaConfig.DisplayName(cfg.ReplicaDefaults);
            targets.Add((name, client, replicaConfig.ToReplicaOptions(cfg, dbConfig.Lease, leaseWait) with { Name = name }));
            foreach (string warning in (replicaConfig.Encryption ?? cfg.ReplicaDefaults.Encryption)?.Warnings ?? [])
            {
                logger.Log(LogLevel.Warning, default, $"{dbConfig.Path}: {warning}", null, static (s, _) => s);
            }
        }
        if (restore && !File.Exists(dbConfig.Path))
        {
            // The backends' own clients: a restore must see what they are (a v0.3 replica's generations).
            await RestoreIfReplicaExistsAsync(targets, dbConfig.Path!, logger, cancellationToken).ConfigureAwait(false);
        }
        DbOptions dbOptions = dbConfig.ToDbOptions();
        bool snapshot = forceSnapshot;
        return (dbConfig.Path!, () =>
        {
            var db = new Db(dbConfig.Path!, dbOptions, logger);
            if (snapshot)
            {
                db.ForceSnapshot("-force-snapshot");
                snapshot = false;
            }
            // The first is the one the store lists; the others replicate beside it.
            return [.. targets.Select(t => new Replica(db, progress is null ? t.Client : new ProgressReplicaClient(t.Client, progress), t.Options, logger))];
        });
    }

    /// <summary>
    /// The databases of a <c>dir:</c> entry at start-up. As upstream: a directory that does not exist is an error (with
    /// <c>watch</c> too), and so is one without databases unless it is watched (then they may come later).
    /// </summary>
    private static List<string> ScanDirectory(DatabaseDirectory directory, bool watch)
    {
        List<string> found;
        try
        {
            found = directory.Scan();
        }
        catch (Exception e) when (e is DirectoryNotFoundException or IOException or UnauthorizedAccessException)
        {
            throw new CommandException($"cannot read directory {directory.Root}: {e.Message}", "create the directory, or fix dir: in the config");
        }
        if (found.Count == 0 && !watch)
        {
            throw new CommandException($"no SQLite databases found in directory {directory.Root} with pattern {directory.Entry.Pattern}", "set watch: true to wait for databases to appear, or fix dir:/pattern:");
        }
        string message = $"{directory.Root}: {found.Count} database(s) matching \"{directory.Entry.Pattern}\"" + (directory.Entry.Recursive ? " (recursive)" : "") + (watch ? ", watching for more" : "");
        directory.Log(LogLevel.Information, message);
        return found;
    }

    /// <summary>Adds the databases that appear in a watched directory to the daemon, and removes those deleted (their replicas stay).</summary>
    private static async Task WatchAsync(DatabaseDirectory directory, List<string> found, ReplicationDaemon daemon, LitestreamConfig cfg, ConsoleLogger logger, CancellationToken cancellationToken)
    {
        try
        {
            await directory.WatchAsync(found, async path =>
            {
                try
                {
                    (string _, Func<IReadOnlyList<Replica>> create) = await DatabaseAsync(directory.Entry.ForDatabase(path), cfg, logger, forceSnapshot: false, restore: false, cancellationToken).ConfigureAwait(false);
                    if (await daemon.AddDiscoveredAsync(path, create, cancellationToken).ConfigureAwait(false))
                    {
                        directory.Log(LogLevel.Information, $"{path}: added to replication");
                    }
                }
                catch (CommandException e)
                {
                    directory.Log(LogLevel.Error, $"{path}: not replicated: {e.Message}");
                }
            }, async path =>
            {
                await daemon.RemoveAsync(path, cfg.ShutdownSyncTimeout, cancellationToken).ConfigureAwait(false);
                directory.Log(LogLevel.Information, $"{path}: removed from replication (deleted); its replica is kept");
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            directory.Log(LogLevel.Error, $"{directory.Root}: directory watch stopped: {e.Message}; databases already found keep replicating");
        }
    }

    private static async Task RestoreIfReplicaExistsAsync(List<(string Name, IReplicaClient Client, ReplicaOptions Options)> targets, string path, ConsoleLogger logger, CancellationToken cancellationToken)
    {
        // Several replicas: the reachable one with the newest TXID, as restore without -replica picks.
        (string Name, IReplicaClient Client, ReplicaOptions Options) target = targets[0];
        if (targets.Count > 1)
        {
            ReplicaChoice.Candidate newest;
            try
            {
                newest = await ReplicaChoice.NewestAsync(
                    [.. targets.Select(t => new ReplicaChoice.Candidate(t.Name, t.Client, t.Client.ToString() ?? t.Client.Type))], Txid.Zero, null,
                    (replica, e) => logger.Log(LogLevel.Warning, default, $"{path}: {RestoreCommand.Unreadable(replica, e)}", null, static (s, _) => s), cancellationToken).ConfigureAwait(false);
            }
            catch (NoBackupException)
            {
                logger.Log(LogLevel.Information, default, $"no backup of {path} on any replica; starting fresh", null, static (s, _) => s);
                return;
            }
            target = targets.Find(t => t.Name == newest.Name);
            logger.Log(LogLevel.Information, default, $"{path}: restoring from replica {newest.Name}, the newest reachable (txid {newest.Txid})", null, static (s, _) => s);
        }
        RestoreResult? restored = await RestorePlan.TryCreateAsync(target.Client, Txid.Zero, null, cancellationToken).ConfigureAwait(false) is { } plan
            ? await Restorer.RestoreAsync(target.Client, plan, new RestoreOptions { OutputPath = path, Encryption = target.Options.Encryption }, cancellationToken).ConfigureAwait(false)
            : null;
        string message = restored is null ? $"no backup of {path} on the replica; starting fresh" : $"restored {path} {Describe(restored)}";
        logger.Log(LogLevel.Information, default, message, null, static (s, _) => s);
    }

    private static string Describe(RestoreResult restored)
        => restored.LegacyGeneration is { } generation ? $"from v0.3 generation {generation}" : $"to txid {restored.Txid}";

    /// <summary>Runs the -exec command through the shell, forwarding SIGINT/SIGTERM, and returns its exit code.</summary>
    private static async Task<int> RunChildAsync(string command, CancellationToken cancellationToken)
    {
        var psi = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(command);
        using Process child = Process.Start(psi) ?? throw new CommandException($"could not start -exec command: {command}");
        await using CancellationTokenRegistration forward = cancellationToken.Register(() =>
        {
            // Forward the shutdown signal; the child decides how to exit.
            Libc.Kill(child.Id, Libc.SigTerm);
        });
        await child.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
        return child.ExitCode;
    }
}
