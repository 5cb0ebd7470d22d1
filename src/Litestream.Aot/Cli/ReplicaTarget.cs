using Litestream.Aot.Config;
using Litestream.Replication;
using Litestream.Storage;

namespace Litestream.Aot.Cli;

/// <summary>Resolves "DB_PATH or REPLICA_URL" arguments the way upstream's commands do.</summary>
internal static class ReplicaTarget
{
    /// <summary>A replica client from a URL, or from the config entry of a database path.</summary>
    public static (IReplicaClient Client, string Description, DbConfig? Db) Resolve(string target, string? configPath, bool expandEnv)
    {
        if (ReplicaUrl.IsUrl(target))
        {
            return (CreateClient(new ReplicaSettings { Url = target }, target), target, null);
        }
        LitestreamConfig config = LoadConfig(configPath, expandEnv);
        string full = Path.GetFullPath(target);
        DbConfig db = config.Dbs.Find(d => d.Path == full)
            ?? throw new CommandException($"database not found in config: {full}", $"add it under dbs: in {ConfigLoader.ResolvePath(configPath)}, or pass a replica URL");
        ReplicaSettings settings = (db.Replica ?? new ReplicaConfig()).ToSettings(config.ReplicaDefaults);
        return (CreateClient(settings, Describe(settings)), Describe(settings), db);
    }

    /// <summary>
    /// Where a replica is, for output: its URL as written, else one built from the settings (<c>s3://bucket/path</c>
    /// for <c>bucket: bucket, path: path</c>; a file replica's directory).
    /// </summary>
    public static string Describe(ReplicaSettings settings) => settings.Url ?? settings.Type switch
    {
        null or "file" => settings.Path ?? "",
        string type => $"{type}://{Option(settings, "bucket") ?? Option(settings, "host")}/{settings.Path}",
    };

    private static string? Option(ReplicaSettings settings, string key) => settings.Options.TryGetValue(key, out string? value) ? value : null;

    /// <summary>
    /// The config named by -config (or $LITESTREAM_CONFIG, or the default); "-" reads it from standard input.
    /// Reading and parsing cannot observe cancellation (a read of a silent stdin blocks) and leave nothing
    /// behind, so a signal meanwhile ends the process at once.
    /// </summary>
    public static LitestreamConfig LoadConfig(string? configPath, bool expandEnv)
    {
        using Interruption.Scope scope = Interruption.ExitOnSignal("reading the config");
        if (configPath == "-")
        {
            // Relative paths in a piped config resolve against the working directory, as upstream's do.
            return ConfigLoader.Parse(ConfigLoader.Read(Console.In, "the config on standard input"), Environment.CurrentDirectory, expandEnv);
        }
        string path = ConfigLoader.ResolvePath(configPath);
        if (!File.Exists(path))
        {
            throw new CommandException($"config file not found: {path}", "pass -config PATH, or give a replica URL instead of a database path");
        }
        return ConfigLoader.Load(path, expandEnv);
    }

    public static IReplicaClient CreateClient(ReplicaSettings settings, string description)
    {
        try
        {
            return ReplicaClientFactory.Create(settings);
        }
        catch (BackendNotInBuildException e)
        {
            throw new CommandException($"{e.Message} ({description})", e.Hint);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException)
        {
            throw new CommandException($"{e.Message} ({description})", $"supported backends: {string.Join(", ", ReplicaClientFactory.Names)}");
        }
    }

    public static DbOptions ToDbOptions(DbConfig db) => new()
    {
        MonitorInterval = db.MonitorInterval,
        CheckpointInterval = db.CheckpointInterval,
        BusyTimeout = db.BusyTimeout,
        MinCheckpointPageCount = db.MinCheckpointPageCount,
        TruncatePageN = db.TruncatePageN,
        MaxSyncWalBytes = db.MaxSyncWalBytes,
        MetaPath = db.MetaPath,
    };
}
