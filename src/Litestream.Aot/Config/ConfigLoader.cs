using System.Globalization;
using Litestream.Storage;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Litestream.Aot.Config;

/// <summary>
/// Reads a litestream.yml: environment expansion over the text (unless disabled), YAML parsing with
/// YamlDotNet's representation model (no reflection), then binding key by key. Every key upstream
/// v0.5 accepts is recognised; a key this build does not implement fails with "not supported yet",
/// an unknown key fails with its path and line, a bad value with its path and the value.
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
        var config = new LitestreamConfig();
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is YamlScalarNode { Value: null or "" })
        {
            return config;
        }
        var binder = new Binder(baseDirectory);
        binder.BindRoot(Mapping(stream.Documents[0].RootNode, ""), config);
        return config;
    }

    private static YamlMappingNode Mapping(YamlNode node, string path)
        => node as YamlMappingNode ?? throw new ConfigException(path, $"expected a mapping (line {node.Start.Line})");

    private sealed class Binder(string baseDirectory)
    {
        public void BindRoot(YamlMappingNode root, LitestreamConfig config)
        {
            foreach ((YamlNode keyNode, YamlNode value) in root.Children)
            {
                string key = Key(keyNode, "");
                string path = key;
                switch (key)
                {
                    case "addr": config.Addr = Str(value, path); break;
                    case "levels": config.Levels = Levels(value, path); break;
                    case "snapshot": BindSnapshot(value, path, config); break;
                    case "l0-retention": config.L0Retention = Duration(value, path); break;
                    case "l0-retention-check-interval": config.L0RetentionCheckInterval = Duration(value, path); break;
                    case "retention":
                        foreach ((YamlNode k, YamlNode v) in Mapping(value, path).Children)
                        {
                            string p = $"{path}.{Key(k, path)}";
                            if (Key(k, path) == "enabled") { config.RetentionEnabled = Bool(v, p); } else { Unknown(k, path); }
                        }
                        break;
                    case "verify-compaction": config.VerifyCompaction = Bool(value, path); break;
                    case "shutdown-sync-timeout": config.ShutdownSyncTimeout = Duration(value, path); break;
                    case "shutdown-sync-interval": config.ShutdownSyncInterval = Duration(value, path); break;
                    case "exec": config.Exec = Str(value, path); break;
                    case "logging": BindLogging(value, path, config); break;
                    case "dbs": config.Dbs = Dbs(value, path); break;
                    case "socket": BindSocket(value, path, config); break;
                    case "mcp-addr" or "validation" or "heartbeat-url" or "heartbeat-interval":
                        throw new ConfigException(path, "not supported yet");
                    default:
                        if (!BindReplicaKey(key, value, path, config.ReplicaDefaults))
                        {
                            Unknown(keyNode, "");
                        }
                        break;
                }
            }
            Validate(config);
        }

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
                if (db.Path is null)
                {
                    throw new ConfigException($"dbs[{i}]", "path required");
                }
                if (!seen.Add(db.Path))
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

        private void BindSnapshot(YamlNode node, string path, LitestreamConfig config)
        {
            foreach ((YamlNode k, YamlNode v) in Mapping(node, path).Children)
            {
                string key = Key(k, path), p = $"{path}.{key}";
                switch (key)
                {
                    case "interval": config.SnapshotInterval = Duration(v, p); break;
                    case "retention": config.SnapshotRetention = Duration(v, p); break;
                    default: Unknown(k, path); break;
                }
            }
        }

        private void BindSocket(YamlNode node, string path, LitestreamConfig config)
        {
            foreach ((YamlNode k, YamlNode v) in Mapping(node, path).Children)
            {
                string key = Key(k, path), p = $"{path}.{key}";
                switch (key)
                {
                    case "enabled": config.SocketEnabled = Bool(v, p); break;
                    case "path": config.SocketPath = LocalPath(Str(v, p), p)!; break;
                    case "permissions": config.SocketPermissions = Permissions(v, p); break;
                    default: Unknown(k, path); break;
                }
            }
        }

        /// <summary>A file mode as Go's YAML reads an integer: <c>0600</c> and <c>0o600</c> are octal.</summary>
        private static UnixFileMode Permissions(YamlNode node, string path)
        {
            string text = Str(node, path) ?? "";
            string digits = text.StartsWith("0o", StringComparison.OrdinalIgnoreCase) ? text[2..] : text.Length > 1 && text[0] == '0' ? text[1..] : text;
            int mode = 0;
            bool octal = digits.Length != text.Length;
            foreach (char c in digits)
            {
                int d = c - '0';
                if (d < 0 || d > (octal ? 7 : 9))
                {
                    throw new ConfigException(path, $"invalid permissions \"{text}\": expected an octal mode like 0600");
                }
                mode = mode * (octal ? 8 : 10) + d;
            }
            if (digits.Length == 0 || mode > 0x1FF)
            {
                throw new ConfigException(path, $"invalid permissions \"{text}\": expected an octal mode like 0600");
            }
            return (UnixFileMode)mode;
        }

        private static void BindLogging(YamlNode node, string path, LitestreamConfig config)
        {
            foreach ((YamlNode k, YamlNode v) in Mapping(node, path).Children)
            {
                string key = Key(k, path), p = $"{path}.{key}";
                switch (key)
                {
                    case "level":
                        config.LogLevel = Str(v, p);
                        if (config.LogLevel?.ToLowerInvariant() is not ("trace" or "debug" or "info" or "warn" or "warning" or "error"))
                        {
                            throw new ConfigException(p, $"invalid log level \"{config.LogLevel}\"");
                        }
                        break;
                    case "type":
                        config.LogType = Str(v, p);
                        if (config.LogType is not ("text" or "json"))
                        {
                            throw new ConfigException(p, $"invalid log type \"{config.LogType}\" (text or json)");
                        }
                        break;
                    case "stderr" or "source": Bool(v, p); break;
                    default: Unknown(k, path); break;
                }
            }
        }

        private static List<TimeSpan> Levels(YamlNode node, string path)
        {
            var result = new List<TimeSpan>();
            int i = 0;
            foreach (YamlNode item in Sequence(node, path))
            {
                string itemPath = $"{path}[{i++}]";
                TimeSpan? interval = null;
                foreach ((YamlNode k, YamlNode v) in Mapping(item, itemPath).Children)
                {
                    if (Key(k, itemPath) == "interval") { interval = Duration(v, $"{itemPath}.interval"); } else { Unknown(k, itemPath); }
                }
                result.Add(interval ?? throw new ConfigException(itemPath, "interval required"));
            }
            return result;
        }

        private List<DbConfig> Dbs(YamlNode node, string path)
        {
            var result = new List<DbConfig>();
            int i = 0;
            foreach (YamlNode item in Sequence(node, path))
            {
                string dbPath = $"{path}[{i++}]";
                var db = new DbConfig();
                foreach ((YamlNode k, YamlNode v) in Mapping(item, dbPath).Children)
                {
                    string key = Key(k, dbPath), p = $"{dbPath}.{key}";
                    switch (key)
                    {
                        case "path": db.Path = LocalPath(Str(v, p), p); break;
                        case "meta-path": db.MetaPath = LocalPath(Str(v, p), p); break;
                        case "monitor-interval": db.MonitorInterval = Duration(v, p); break;
                        case "checkpoint-interval": db.CheckpointInterval = Duration(v, p); break;
                        case "busy-timeout": db.BusyTimeout = Duration(v, p); break;
                        case "min-checkpoint-page-count": db.MinCheckpointPageCount = Int(v, p); break;
                        case "truncate-page-n": db.TruncatePageN = Int(v, p); break;
                        case "max-sync-wal-bytes": db.MaxSyncWalBytes = Size(v, p); break;
                        case "restore-if-db-not-exists": db.RestoreIfDbNotExists = Bool(v, p); break;
                        case "replica": db.Replica = Replica(v, p); break;
                        case "replicas":
                        {
                            List<YamlNode> items = [.. Sequence(v, p)];
                            if (items.Count != 1)
                            {
                                throw new ConfigException(p, $"exactly one replica is supported, got {items.Count}");
                            }
                            db.Replica = Replica(items[0], $"{p}[0]");
                            break;
                        }
                        case "dir" or "pattern" or "recursive" or "watch" or "meta-dir" or "snapshot":
                            throw new ConfigException(p, "not supported yet");
                        default: Unknown(k, dbPath); break;
                    }
                }
                result.Add(db);
            }
            return result;
        }

        private ReplicaConfig Replica(YamlNode node, string path)
        {
            var replica = new ReplicaConfig();
            foreach ((YamlNode k, YamlNode v) in Mapping(node, path).Children)
            {
                string key = Key(k, path);
                if (!BindReplicaKey(key, v, $"{path}.{key}", replica))
                {
                    Unknown(k, path);
                }
            }
            if (replica.Url is not null && replica.Type is not null && ReplicaUrl.IsUrl(replica.Url))
            {
                string scheme = ReplicaUrl.Parse(replica.Url).Type!;
                if (scheme != replica.Type)
                {
                    throw new ConfigException($"{path}.type", $"replica type \"{replica.Type}\" does not match url scheme \"{scheme}\"");
                }
            }
            return replica;
        }

        /// <summary>Binds one replica key; false when the key is not a replica key at all.</summary>
        private bool BindReplicaKey(string key, YamlNode v, string p, ReplicaConfig r)
        {
            ReplicaSettings s = r.Settings;
            switch (key)
            {
                case "url":
                    r.Url = Str(v, p);
                    try
                    {
                        ReplicaUrl.Parse(r.Url!);
                    }
                    catch (ArgumentException e)
                    {
                        throw new ConfigException(p, e.Message);
                    }
                    break;
                case "type":
                    r.Type = Str(v, p);
                    if (r.Type is not ("file" or "s3" or "abs" or "sftp" or "webdav" or "gs" or "nats" or "oss"))
                    {
                        throw new ConfigException(p, $"unknown replica type \"{r.Type}\"");
                    }
                    break;
                case "path": r.Path = Str(v, p); break;
                case "sync-interval": r.SyncInterval = Duration(v, p); break;
                case "max-sync-ltx-files": r.MaxSyncLtxFiles = Int(v, p); break;
                case "auto-recover": r.AutoRecover = Bool(v, p); break;
                case "validation-interval": Duration(v, p); break;
                case "bucket": r.Settings = s with { Bucket = Str(v, p) }; break;
                case "region": r.Settings = s with { Region = Str(v, p) }; break;
                case "endpoint": r.Settings = s with { Endpoint = Str(v, p) }; break;
                case "force-path-style": r.Settings = s with { ForcePathStyle = Bool(v, p) }; break;
                case "skip-verify": r.Settings = s with { SkipVerify = Bool(v, p) }; break;
                case "sign-payload": r.Settings = s with { SignPayload = Bool(v, p) }; break;
                case "require-content-md5": r.Settings = s with { RequireContentMd5 = Bool(v, p) }; break;
                case "storage-class": r.Settings = s with { StorageClass = Str(v, p) }; break;
                case "part-size": r.Settings = s with { PartSize = Size(v, p) }; break;
                case "concurrency": r.Settings = s with { Concurrency = Int(v, p) }; break;
                case "access-key-id": r.Settings = s with { AccessKeyId = Str(v, p) }; break;
                case "secret-access-key": r.Settings = s with { SecretAccessKey = Str(v, p) }; break;
                case "sse-customer-algorithm": r.Settings = s with { SseCustomerAlgorithm = Str(v, p) }; break;
                case "sse-customer-key": r.Settings = s with { SseCustomerKey = Str(v, p) }; break;
                case "sse-customer-key-path": r.Settings = s with { SseCustomerKeyPath = Str(v, p) }; break;
                case "sse-kms-key-id": r.Settings = s with { SseKmsKeyId = Str(v, p) }; break;
                case "account-name": r.Settings = s with { AccountName = Str(v, p) }; break;
                case "account-key": r.Settings = s with { AccountKey = Str(v, p) }; break;
                case "sas-token": r.Settings = s with { SasToken = Str(v, p) }; break;
                case "host": r.Settings = s with { Host = Str(v, p) }; break;
                case "user": r.Settings = s with { User = Str(v, p) }; break;
                case "password": r.Settings = s with { Password = Str(v, p) }; break;
                case "key-path": r.Settings = s with { KeyPath = Str(v, p) }; break;
                case "host-key": r.Settings = s with { HostKey = Str(v, p) }; break;
                case "concurrent-writes": r.Settings = s with { ConcurrentWrites = Bool(v, p) }; break;
                case "webdav-url": r.Settings = s with { WebDavUrl = Str(v, p) }; break;
                case "webdav-username": r.Settings = s with { WebDavUsername = Str(v, p) }; break;
                case "webdav-password": r.Settings = s with { WebDavPassword = Str(v, p) }; break;
                case "age":
                    throw new ConfigException(p, "age encryption is not currently supported");
                case "jwt" or "seed" or "creds" or "nkey" or "username" or "token" or "tls" or "root-cas"
                    or "client-cert" or "client-key" or "max-reconnects" or "reconnect-wait" or "timeout":
                    throw new ConfigException(p, "not supported yet (nats replicas)");
                default:
                    return false;
            }
            return true;
        }

        private string? LocalPath(string? value, string path)
        {
            if (string.IsNullOrEmpty(value))
            {
                throw new ConfigException(path, "must not be empty");
            }
            foreach (string prefix in new[] { "sqlite3://", "sqlite://" })
            {
                if (value.StartsWith(prefix, StringComparison.Ordinal))
                {
                    value = value[prefix.Length..];
                }
            }
            if (value.StartsWith("~/", StringComparison.Ordinal))
            {
                value = System.IO.Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), value[2..]);
            }
            return System.IO.Path.GetFullPath(value, baseDirectory);
        }

        private static string Key(YamlNode node, string parent)
            => node is YamlScalarNode { Value: { } key }
                ? key
                : throw new ConfigException(parent, $"keys must be plain strings (line {node.Start.Line})");

        private static void Unknown(YamlNode keyNode, string parent)
        {
            string key = ((YamlScalarNode)keyNode).Value!;
            throw new ConfigException(parent.Length == 0 ? key : $"{parent}.{key}", $"unknown key (line {keyNode.Start.Line})");
        }

        private static IEnumerable<YamlNode> Sequence(YamlNode node, string path)
            => node as YamlSequenceNode ?? throw new ConfigException(path, $"expected a list (line {node.Start.Line})");

        private static string? Str(YamlNode node, string path)
            => node is YamlScalarNode scalar ? scalar.Value : throw new ConfigException(path, $"expected a value, not a {(node is YamlSequenceNode ? "list" : "mapping")} (line {node.Start.Line})");

        private static TimeSpan Duration(YamlNode node, string path)
        {
            string text = Str(node, path) ?? "";
            return ConfigValues.TryParseDuration(text, out TimeSpan value) && value >= TimeSpan.Zero
                ? value
                : throw new ConfigException(path, $"invalid duration \"{text}\"");
        }

        private static long Size(YamlNode node, string path)
        {
            string text = Str(node, path) ?? "";
            return ConfigValues.TryParseSize(text, out long value) ? value : throw new ConfigException(path, $"invalid size \"{text}\"");
        }

        private static int Int(YamlNode node, string path)
        {
            string text = Str(node, path) ?? "";
            return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) && value >= 0
                ? value
                : throw new ConfigException(path, $"invalid number \"{text}\"");
        }

        private static bool Bool(YamlNode node, string path)
        {
            string text = Str(node, path) ?? "";
            return text switch
            {
                "true" or "True" or "TRUE" or "yes" or "on" => true,
                "false" or "False" or "FALSE" or "no" or "off" => false,
                _ => throw new ConfigException(path, $"invalid boolean \"{text}\""),
            };
        }
    }
}
