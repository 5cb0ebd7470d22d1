using Litestream.Storage;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

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

    /// <summary>Loads and validates a config file.</summary>
    public static LitestreamConfig Load(string path, bool expandEnv = true)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ConfigException("", $"config file not found: {path}");
        }
        return Parse(text, System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!, expandEnv);
    }

    /// <summary>Parses config text; relative paths resolve against <paramref name="baseDirectory"/>.</summary>
    public static LitestreamConfig Parse(string text, string baseDirectory, bool expandEnv = true)
    {
        if (expandEnv)
        {
            text = ConfigValues.ExpandEnvironment(text, Environment.GetEnvironmentVariable);
        }
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            throw new ConfigException("", $"invalid yaml at line {e.Start.Line}: {e.InnerException?.Message ?? e.Message}");
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException)
        {
            // YamlDotNet fails without a position on some malformed input: its scanner throws
            // InvalidOperationException on an unterminated flow collection followed by more keys
            // ("levels: [0x10"), its loader ArgumentException on an alias right after a flow collection
            // ("levels: [...]*b"). Found by ConfigLoaderFuzzTests.
            throw new ConfigException("", "invalid yaml: the parser could not read the document (check brackets, braces, quotes and aliases)");
        }
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is YamlScalarNode { Value: null or "" })
        {
            return new LitestreamConfig();
        }
        LitestreamConfig config = LitestreamConfig.Bind(ToNode(stream.Documents[0].RootNode), "", new ConfigContext(baseDirectory));
        Validate(config);
        return config;
    }

    /// <summary>YamlDotNet's tree as the generated binders read it.</summary>
    private static ConfigNode ToNode(YamlNode node)
    {
        long line = node.Start.Line;
        switch (node)
        {
            case YamlMappingNode mapping:
                var entries = new List<KeyValuePair<ConfigNode, ConfigNode>>(mapping.Children.Count);
                foreach ((YamlNode key, YamlNode value) in mapping.Children)
                {
                    entries.Add(new(ToNode(key), ToNode(value)));
                }
                return ConfigNode.Mapping(entries, line);
            case YamlSequenceNode sequence:
                var items = new List<ConfigNode>(sequence.Children.Count);
                foreach (YamlNode item in sequence.Children)
                {
                    items.Add(ToNode(item));
                }
                return ConfigNode.List(items, line);
            default:
                return ConfigNode.Scalar((node as YamlScalarNode)?.Value, line);
        }
    }

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
            // [ConfigRequired] on DbConfig.Path: the binder has failed already when it is missing.
            if (!seen.Add(db.Path!))
            {
                throw new ConfigException($"dbs[{i}].path", $"duplicate database path \"{db.Path}\"");
            }
            if (db.Replica is null && config.ReplicaDefaults.Url is null && config.ReplicaDefaults.Path is null)
            {
                throw new ConfigException($"dbs[{i}]", "replica required");
            }
            string replicaPath = $"dbs[{i}].replica";
            ReplicaSettings settings;
            try
            {
                settings = (db.Replica ?? new ReplicaConfig()).ToSettings(config.ReplicaDefaults);
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
