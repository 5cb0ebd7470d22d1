using Litestream.Storage;
using YamlDotNet.Core;

namespace Litestream.Aot.Config;

/// <summary>
/// Reads a litestream.yml: environment expansion over the text (unless disabled), YAML parsing with
/// YamlDotNet's representation model (no reflection), then the binders Litestream.Generators emits
/// for the <see cref="ConfigSectionAttribute"/> classes, then the checks across sections. Every key
/// upstream v0.5 accepts is recognised; a key this build does not implement fails with "not supported
/// yet", an unknown key fails with its path and line, a bad value with its path and the value.
/// </summary>
public static class ConfigLoader
{
    /// <summary>Default config path when neither -config nor LITESTREAM_CONFIG is given.</summary>
    public const string DefaultPath = "/etc/litestream.yml";

    /// <summary>The config path: explicit, else $LITESTREAM_CONFIG, else /etc/litestream.yml.</summary>
    public static string ResolvePath(string? explicitPath)
        => !string.IsNullOrEmpty(explicitPath) ? explicitPath
            : Environment.GetEnvironmentVariable("LITESTREAM_CONFIG") is { Length: > 0 } env ? env
            : DefaultPath;

    /// <summary>
    /// Largest config accepted, in characters, as read and after environment expansion: a real one is a few
    /// KiB, and everything after reading is bounded by it.
    /// </summary>
    public const int MaxSize = 1024 * 1024;

    /// <summary>Loads and validates a config file.</summary>
    public static LitestreamConfig Load(string path, bool expandEnv = true)
    {
        string text;
        try
        {
            using var reader = new StreamReader(path);
            text = Read(reader, path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ConfigException("", $"config file not found: {path}");
        }
        return Parse(text, System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!, expandEnv);
    }

    /// <summary>
    /// Reads a whole config from <paramref name="reader"/> (a file, or standard input for <c>-config -</c>),
    /// failing as soon as it passes <see cref="MaxSize"/>: <c>/dev/zero</c> or an endless pipe is not read to the end.
    /// </summary>
    public static string Read(TextReader reader, string name)
    {
        var text = new System.Text.StringBuilder();
        char[] buffer = new char[16 * 1024];
        int n;
        while ((n = reader.Read(buffer)) > 0)
        {
            text.Append(buffer, 0, n);
            if (text.Length > MaxSize)
            {
                throw TooLarge(name);
            }
        }
        return text.ToString();
    }

    /// <summary>Parses config text; relative paths resolve against <paramref name="baseDirectory"/>.</summary>
    public static LitestreamConfig Parse(string text, string baseDirectory, bool expandEnv = true)
    {
        if (text.Length > MaxSize)
        {
            throw TooLarge("the config");
        }
        if (expandEnv)
        {
            text = ConfigValues.ExpandEnvironment(text, Environment.GetEnvironmentVariable, MaxSize);
        }
        ConfigNode? root;
        try
        {
            root = ConfigYamlReader.ReadFirstDocument(text);
        }
        catch (YamlException e)
        {
            throw new ConfigException("", $"invalid yaml at line {e.Start.Line}: {e.InnerException?.Message ?? e.Message}");
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException)
        {
            // YamlDotNet's scanner fails without a position on some malformed input: it throws
            // InvalidOperationException on an unterminated flow collection followed by more keys
            // ("levels: [0x10"). Found by ConfigLoaderFuzzTests.
            throw new ConfigException("", "invalid yaml: the parser could not read the document (check brackets, braces, quotes and aliases)");
        }
        if (root is null || root.ScalarValue is "")
        {
            return new LitestreamConfig();
        }
        LitestreamConfig config = LitestreamConfig.Bind(root, "", new ConfigContext(baseDirectory));
        Validate(config);
        return config;
    }

    private static ConfigException TooLarge(string name) => new("", $"{name} is larger than {MaxSize / 1024} KiB");

    /// <summary>Checks across sections, once everything is bound.</summary>
    private static void Validate(LitestreamConfig config)
    {
        for (int i = 0; i < config.Levels.Count; i++)
        {
            if (config.Levels[i] <= TimeSpan.Zero)
            {
                throw new ConfigException($"levels[{i}].interval", "must be positive");
            }
        }
        if (config.Levels.Count > 8)
        {
            throw new ConfigException("levels", $"at most 8 levels are allowed, got {config.Levels.Count}");
        }
        if (config.SnapshotInterval <= TimeSpan.Zero)
        {
            throw new ConfigException("snapshot.interval", "must be positive");
        }
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < config.Dbs.Count; i++)
        {
            DbConfig db = config.Dbs[i];
            // DbConfig.OnBound has failed already when neither path nor dir is given.
            if (!seen.Add(db.Path ?? db.Dir!))
            {
                throw new ConfigException(db.Path is null ? $"dbs[{i}].dir" : $"dbs[{i}].path", $"duplicate database {(db.Path is null ? "dir" : "path")} \"{db.Path ?? db.Dir}\"");
            }
            if (db.Lease.Enabled && db.Lease.Ttl < Litestream.Lease.LeaseOptions.MinTtl)
            {
                throw new ConfigException($"dbs[{i}].lease.ttl", $"must be at least {GoDuration.Format(Litestream.Lease.LeaseOptions.MinTtl)}, got {GoDuration.Format(db.Lease.Ttl)}");
            }
            if (db.Replica is null && config.ReplicaDefaults.Url is null && config.ReplicaDefaults.Path is null)
            {
                throw new ConfigException($"dbs[{i}]", "replica required");
            }
            db.CheckReplicaNames($"dbs[{i}]", config.ReplicaDefaults);
            IReadOnlyList<ReplicaConfig> sections = db.ReplicaSections();
            for (int r = 0; r < sections.Count; r++)
            {
                string replicaPath = db.Replicas is null ? $"dbs[{i}].replica" : $"dbs[{i}].replicas[{r}]";
                ReplicaSettings settings;
                try
                {
                    settings = sections[r].ToSettings(config.ReplicaDefaults);
                }
                catch (ArgumentException e)
                {
                    throw new ConfigException($"{replicaPath}.url", e.Message);
                }
                if (settings.Type == "file" && string.IsNullOrEmpty(settings.Path))
                {
                    throw new ConfigException(replicaPath, "file replica requires a path or url");
                }
            }
        }
    }
}
