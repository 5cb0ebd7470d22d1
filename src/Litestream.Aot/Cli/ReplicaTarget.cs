using Litestream.Aot.Config;
using Litestream.Storage;

namespace Litestream.Aot.Cli;

/// <summary>Resolves "DB_PATH or REPLICA_URL" arguments the way upstream's commands do.</summary>
internal static class ReplicaTarget
{
    /// <summary>
    /// A replica client from a URL, or from the config entry of a database path; with it that entry's replica section
    /// and the top-level replica defaults it inherits from (null for a URL).
    /// </summary>
    public static (IReplicaClient Client, string Description, (ReplicaConfig Replica, ReplicaConfig Defaults)? Config) Resolve(string target, string? configPath, bool expandEnv)
    {
        if (ReplicaUrl.IsUrl(target))
        {
            CheckUrlArgument(target);
            return (CreateClient(new ReplicaSettings { Url = target }, target), target, null);
        }
        LitestreamConfig config = LoadConfig(configPath, expandEnv, orInstead: "give the replica URL instead of the database path");
        string full = Path.GetFullPath(target);
        DbConfig db = FindDatabase(config, full)
            ?? throw new CommandException($"database not found in config: {full}", $"add it under dbs: in {ConfigLoader.ResolvePath(configPath)}, or pass a replica URL");
        ReplicaSettings settings = db.ToReplicaSettings(config.ReplicaDefaults);
        return (CreateClient(settings, Describe(settings)), Describe(settings), (db.Replica ?? new ReplicaConfig(), config.ReplicaDefaults));
    }

    /// <summary>
    /// <see cref="Resolve"/> for a restore: a database of the config with several replicas (a <c>replicas:</c> list)
    /// gives every one of them, with its name; a URL or a database with one replica gives one.
    /// </summary>
    public static List<(string Name, IReplicaClient Client, string Description, (ReplicaConfig Replica, ReplicaConfig Defaults)? Config)> ResolveAll(string target, string? configPath, bool expandEnv)
    {
        if (ReplicaUrl.IsUrl(target))
        {
            (IReplicaClient client, string description, var config) = Resolve(target, configPath, expandEnv);
            return [(client.Type, client, description, config)];
        }
        LitestreamConfig loaded = LoadConfig(configPath, expandEnv, orInstead: "give the replica URL instead of the database path");
        string full = Path.GetFullPath(target);
        DbConfig db = FindDatabase(loaded, full)
            ?? throw new CommandException($"database not found in config: {full}", $"add it under dbs: in {ConfigLoader.ResolvePath(configPath)}, or pass a replica URL");
        var all = new List<(string, IReplicaClient, string, (ReplicaConfig, ReplicaConfig)?)>();
        foreach (ReplicaConfig section in db.ReplicaSections())
        {
            ReplicaSettings settings = db.ToReplicaSettings(loaded.ReplicaDefaults, section);
            all.Add((section.DisplayName(loaded.ReplicaDefaults), CreateClient(settings, Describe(settings)), Describe(settings), (section, loaded.ReplicaDefaults)));
        }
        return all;
    }

    /// <summary>
    /// The config entry of the database at <paramref name="fullPath"/>: a <c>path:</c> entry, or a database under a
    /// <c>dir:</c> entry (it need not exist: restore brings back a deleted one).
    /// </summary>
    public static DbConfig? FindDatabase(LitestreamConfig config, string fullPath)
    {
        if (config.Dbs.Find(d => d.Path == fullPath) is { } db)
        {
            return db;
        }
        foreach (DbConfig dir in config.Dbs)
        {
            if (dir.Dir is not null && Path.GetRelativePath(dir.Dir, fullPath) is var relative && !relative.StartsWith("..", StringComparison.Ordinal)
                && relative != "." && !Path.IsPathRooted(relative) && (dir.Recursive || !relative.Contains(Path.DirectorySeparatorChar))
                && dir.Glob!.IsMatch(Path.GetFileName(fullPath)))
            {
                return dir.ForDatabase(fullPath);
            }
        }
        return null;
    }

    /// <summary>
    /// Where a replica is, for output: a file replica's directory (absolute, as resolved), else its URL as written,
    /// else one built from the settings (<c>s3://bucket/path</c> for <c>bucket: bucket, path: path</c>).
    /// </summary>
    public static string Describe(ReplicaSettings settings) => settings.Type switch
    {
        null or "file" => settings.Path ?? settings.Url ?? "",
        string type => settings.Url ?? $"{type}://{Option(settings, "bucket") ?? Option(settings, "host")}/{settings.Path}",
    };

    private static string? Option(ReplicaSettings settings, string key) => settings.Options.TryGetValue(key, out string? value) ? value : null;

    /// <summary>
    /// A replica URL typed on the command line: malformed, or of a scheme upstream does not know, it is a usage error
    /// (exit 2) in every command, as any other bad argument.
    /// </summary>
    public static void CheckUrlArgument(string url)
    {
        try
        {
            ReplicaUrl.Parse(url);
        }
        catch (BackendNotInBuildException e)
        {
            throw new CommandException($"{e.Message} ({ReplicaUrl.Redact(url)})", e.Hint);
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message, $"replica URLs look like file:///path or s3://bucket/path; this build has {string.Join(", ", ReplicaClientFactory.Names)}");
        }
    }

    /// <summary>
    /// The config named by -config (or $LITESTREAM_CONFIG, or the default); "-" reads it from standard input.
    /// Reading and parsing cannot observe cancellation (a read of a silent stdin blocks) and leave nothing
    /// behind, so a signal meanwhile ends the process at once. <paramref name="orInstead"/>: what else the command
    /// takes instead of a config, for the hint when there is none.
    /// </summary>
    public static LitestreamConfig LoadConfig(string? configPath, bool expandEnv, string? orInstead = null)
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
            throw new CommandException($"config file not found: {path}", "pass -config PATH or set LITESTREAM_CONFIG" + (orInstead is null ? "" : $", or {orInstead}"));
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
}
