using Litestream.Storage;

namespace Litestream.Aot.Config;

/// <summary>The whole config file (upstream <c>Config</c>). Defaults as upstream v0.5.</summary>
[ConfigSection]
public sealed partial class LitestreamConfig
{
    /// <summary>Prometheus metrics address (<c>addr</c>).</summary>
    public string? Addr { get; set; }
    /// <summary><c>mcp-addr</c>: the MCP server's address (Streamable HTTP), e.g. <c>127.0.0.1:3001</c>.</summary>
    public string? McpAddr { get; set; }
    /// <summary><c>heartbeat-url</c>: an http(s) URL to GET while every database replicates (a dead-man's switch).</summary>
    public string? HeartbeatUrl { get; set; }
    /// <summary><c>heartbeat-interval</c>: at most one ping per interval (5 min; at least 1 min).</summary>
    public TimeSpan? HeartbeatInterval { get; set; }
    /// <summary><c>validation</c>: how often every replica is restored and compared with its database.</summary>
    public ValidationConfig Validation { get; set; } = new();
    /// <summary>Compaction levels L1..LN (<c>levels</c>).</summary>
    [ConfigKey("levels")]
    public List<LevelConfig> LevelConfigs { get; set; } = [new(TimeSpan.FromSeconds(30)), new(TimeSpan.FromMinutes(5)), new(TimeSpan.FromHours(1))];
    /// <summary><c>snapshot</c>.</summary>
    public SnapshotConfig Snapshot { get; set; } = new();
    /// <summary><c>l0-retention</c>.</summary>
    public TimeSpan L0Retention { get; set; } = TimeSpan.FromMinutes(5);
    /// <summary><c>l0-retention-check-interval</c>.</summary>
    public TimeSpan L0RetentionCheckInterval { get; set; } = TimeSpan.FromSeconds(15);
    /// <summary><c>retention</c>.</summary>
    public RetentionConfig Retention { get; set; } = new();
    /// <summary><c>verify-compaction</c>.</summary>
    public bool VerifyCompaction { get; set; }
    /// <summary><c>socket</c>: the control socket.</summary>
    public SocketConfig Socket { get; set; } = new();
    /// <summary><c>shutdown-sync-timeout</c>.</summary>
    public TimeSpan ShutdownSyncTimeout { get; set; } = TimeSpan.FromSeconds(30);
    /// <summary><c>shutdown-sync-interval</c>.</summary>
    public TimeSpan ShutdownSyncInterval { get; set; } = TimeSpan.FromMilliseconds(500);
    /// <summary><c>exec</c>: command to run; replication stops when it exits.</summary>
    public string? Exec { get; set; }
    /// <summary><c>logging</c>.</summary>
    public LoggingConfig Logging { get; set; } = new();
    /// <summary>Replica keys given at the top level: defaults for every replica.</summary>
    [ConfigInline]
    public ReplicaConfig ReplicaDefaults { get; set; } = new();
    /// <summary><c>dbs</c>.</summary>
    public List<DbConfig> Dbs { get; set; } = [];

    /// <summary>The compaction level intervals, L1 first.</summary>
    public List<TimeSpan> Levels => LevelConfigs.ConvertAll(l => l.Interval.GetValueOrDefault());
    /// <summary><c>snapshot.interval</c>.</summary>
    public TimeSpan SnapshotInterval => Snapshot.Interval;
    /// <summary><c>snapshot.retention</c>.</summary>
    public TimeSpan SnapshotRetention => Snapshot.Retention;
    /// <summary><c>retention.enabled</c>.</summary>
    public bool RetentionEnabled => Retention.Enabled;
    /// <summary><c>socket.enabled</c>.</summary>
    public bool SocketEnabled => Socket.Enabled;
    /// <summary><c>socket.path</c>.</summary>
    public string SocketPath => Socket.Path;
    /// <summary><c>socket.permissions</c>.</summary>
    public UnixFileMode SocketPermissions => Socket.Permissions;

    partial void OnBound(string path, ConfigContext context)
    {
        ReplicaDefaults.Complete(path, context);
        // Upstream's checks and messages (ErrInvalidHeartbeatURL, ErrInvalidHeartbeatInterval).
        if (!string.IsNullOrEmpty(HeartbeatUrl)
            && !(Uri.TryCreate(HeartbeatUrl, UriKind.Absolute, out Uri? url) && url.Scheme is "http" or "https" && HeartbeatUrl.StartsWith(url.Scheme + "://", StringComparison.Ordinal)))
        {
            throw new ConfigException(ConfigNode.Child(path, "heartbeat-url"), "heartbeat URL must be a valid HTTP or HTTPS URL");
        }
        if (HeartbeatInterval < TimeSpan.FromMinutes(1))
        {
            throw new ConfigException(ConfigNode.Child(path, "heartbeat-interval"), "heartbeat interval must be at least 1 minute");
        }
    }
}

/// <summary>One <c>levels[]</c> entry.</summary>
[ConfigSection]
public sealed partial class LevelConfig
{
    /// <summary>An empty level, for the binder.</summary>
    public LevelConfig()
    {
    }

    /// <summary>A level compacted every <paramref name="interval"/>.</summary>
    public LevelConfig(TimeSpan interval) => Interval = interval;

    /// <summary><c>interval</c>.</summary>
    [ConfigRequired]
    public TimeSpan? Interval { get; set; }
}

/// <summary>The <c>snapshot</c> section.</summary>
[ConfigSection]
public sealed partial class SnapshotConfig
{
    /// <summary><c>snapshot.interval</c>.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromHours(24);
    /// <summary><c>snapshot.retention</c>.</summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromHours(24);
}

/// <summary>
/// A database's <c>lease</c> section: the single-writer lease on its replica (<c>lease.json</c>). Off unless enabled,
/// for every kind of entry: see README "Single writer".
/// </summary>
[ConfigSection]
public sealed partial class LeaseConfig
{
    /// <summary><c>lease.enabled</c>: take the lease before uploading, renew it, refuse to replicate when another holder has it.</summary>
    public bool Enabled { get; set; }
    /// <summary><c>lease.ttl</c>: how long the lease lasts unrenewed (renewed every third of it; at least 3s).</summary>
    public TimeSpan Ttl { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>The <c>socket</c> section.</summary>
[ConfigSection]
public sealed partial class SocketConfig
{
    /// <summary><c>socket.enabled</c>: serve the control socket (start, stop, sync, register, unregister, info, list).</summary>
    public bool Enabled { get; set; }
    /// <summary><c>socket.path</c> (absolute after loading).</summary>
    [ConfigKey("path")]
    public string? PathText { get; set; }
    /// <summary><c>socket.permissions</c> (octal in the YAML, as Go reads <c>0600</c>).</summary>
    public UnixFileMode Permissions { get; set; } = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>
    /// <c>socket.addr</c>: also serve the control API over TCP on <c>host:port</c> (for <c>Litestream.Client</c> on
    /// another machine); every TCP request must carry <c>Authorization: Bearer</c> <see cref="Token"/>.
    /// </summary>
    public string? Addr { get; set; }
    /// <summary><c>socket.token</c>: the bearer token TCP requests must carry (required with <see cref="Addr"/>).</summary>
    public string? Token { get; set; }

    private string _path = "/var/run/litestream.sock";

    /// <summary>The socket path: <see cref="PathText"/> resolved, or upstream's default.</summary>
    public string Path => _path;

    partial void OnBound(string path, ConfigContext context)
    {
        if (PathText is not null)
        {
            _path = context.ResolveLocalPath(PathText, ConfigNode.Child(path, "path"));
        }
        if (!string.IsNullOrEmpty(Addr) && string.IsNullOrEmpty(Token))
        {
            // The control API halts and writes databases: never unauthenticated over a network.
            throw new ConfigException(ConfigNode.Child(path, "token"), "required when socket.addr is set (TCP requests must carry it as a bearer token)");
        }
    }
}

/// <summary>The <c>validation</c> section.</summary>
[ConfigSection]
public sealed partial class ValidationConfig
{
    /// <summary><c>validation.interval</c>: validate every replica this often (a replica's <c>validation-interval</c> wins); unset: never.</summary>
    public TimeSpan? Interval { get; set; }
}

/// <summary>The <c>retention</c> section.</summary>
[ConfigSection]
public sealed partial class RetentionConfig
{
    /// <summary><c>retention.enabled</c>.</summary>
    public bool Enabled { get; set; } = true;
}

/// <summary>The <c>logging</c> section.</summary>
[ConfigSection]
public sealed partial class LoggingConfig
{
    /// <summary><c>logging.level</c>.</summary>
    [ConfigOneOf("trace", "debug", "info", "warn", "warning", "error", IgnoreCase = true, Error = "invalid log level \"{0}\"")]
    public string? Level { get; set; }
    /// <summary><c>logging.type</c> (text or json).</summary>
    [ConfigOneOf("text", "json", Error = "invalid log type \"{0}\" (text or json)")]
    public string? Type { get; set; }
    /// <summary><c>logging.stderr</c> (accepted; logs always go to standard error).</summary>
    public bool? Stderr { get; set; }
    /// <summary><c>logging.source</c> (accepted; source locations are not logged).</summary>
    public bool? Source { get; set; }
}

/// <summary>
/// One <c>dbs[]</c> entry: a database (<c>path</c>) or a directory of databases (<c>dir</c> with <c>pattern</c>,
/// <c>recursive</c>, <c>watch</c>), each of which is replicated under <c>&lt;replica path&gt;/&lt;its path relative to dir&gt;</c>.
/// </summary>
[ConfigSection]
[ConfigNotSupported("meta-dir", "snapshot")]
public sealed partial class DbConfig
{
    /// <summary><c>path</c> (absolute after loading); null for a <c>dir</c> entry.</summary>
    public string? Path { get; set; }
    /// <summary><c>dir</c>: a directory whose databases are replicated (absolute after loading).</summary>
    public string? Dir { get; set; }
    /// <summary><c>pattern</c>: which file names in <see cref="Dir"/> are databases (Go glob, e.g. <c>*.db</c>); required with dir, as upstream.</summary>
    public string? Pattern { get; set; }
    /// <summary><c>recursive</c>: look in <see cref="Dir"/>'s subdirectories too.</summary>
    public bool Recursive { get; set; }
    /// <summary><c>watch</c>: replicate databases that appear in <see cref="Dir"/> while running, stop those removed.</summary>
    public bool Watch { get; set; }
    /// <summary><c>meta-path</c>.</summary>
    public string? MetaPath { get; set; }
    /// <summary><c>monitor-interval</c>.</summary>
    public TimeSpan MonitorInterval { get; set; } = TimeSpan.FromSeconds(1);
    /// <summary><c>checkpoint-interval</c>.</summary>
    public TimeSpan CheckpointInterval { get; set; } = TimeSpan.FromMinutes(1);
    /// <summary><c>busy-timeout</c>.</summary>
    public TimeSpan BusyTimeout { get; set; } = TimeSpan.FromSeconds(1);
    /// <summary><c>min-checkpoint-page-count</c>.</summary>
    public int MinCheckpointPageCount { get; set; } = 1000;
    /// <summary><c>truncate-page-n</c>.</summary>
    public int TruncatePageN { get; set; } = 121359;
    /// <summary><c>max-sync-wal-bytes</c>.</summary>
    [ConfigSize]
    public long MaxSyncWalBytes { get; set; } = 64L * 1024 * 1024;
    /// <summary><c>restore-if-db-not-exists</c>.</summary>
    public bool RestoreIfDbNotExists { get; set; }
    /// <summary><c>lease</c>: the single-writer lease on the replica (off by default).</summary>
    public LeaseConfig Lease { get; set; } = new();
    /// <summary><c>replica</c> (or the first element of the <c>replicas</c> list).</summary>
    public ReplicaConfig? Replica { get; set; }
    /// <summary>
    /// The <c>replicas</c> list (v0.3's, accepted again: several replicas per database, each with a unique
    /// <c>name</c>); its first element is also <see cref="Replica"/>.
    /// </summary>
    public List<ReplicaConfig>? Replicas { get; set; }

    /// <summary>Every replica section of this database: the <c>replicas</c> list, else the one <c>replica</c> (or none: the top-level defaults alone).</summary>
    public IReadOnlyList<ReplicaConfig> ReplicaSections() => Replicas ?? [Replica ?? new ReplicaConfig()];

    private string? _relativePath;

    /// <summary>For a database found under a <c>dir</c> entry: its path relative to the directory ('/'-separated), else null.</summary>
    public string? RelativePath => _relativePath;

    private Directories.GlobPattern? _glob;

    /// <summary>The pattern of a <c>dir</c> entry, checked when the config was loaded.</summary>
    internal Directories.GlobPattern? Glob => _glob;

    /// <summary>
    /// The settings of this database's replica: the replica section over the top-level defaults, and for a database
    /// found under a <c>dir</c> entry the replica path (and URL) extended by its relative path, as upstream lays it out.
    /// </summary>
    public ReplicaSettings ToReplicaSettings(ReplicaConfig defaults) => ToReplicaSettings(defaults, Replica ?? new ReplicaConfig());

    /// <summary><see cref="ToReplicaSettings(ReplicaConfig)"/> for one of the database's replica sections (<see cref="ReplicaSections"/>).</summary>
    public ReplicaSettings ToReplicaSettings(ReplicaConfig defaults, ReplicaConfig replica)
    {
        ArgumentNullException.ThrowIfNull(replica);
        ReplicaSettings settings = replica.ToSettings(defaults);
        if (_relativePath is not { } relative)
        {
            return settings;
        }
        return settings with
        {
            Path = settings.Type == "file"
                ? System.IO.Path.Join(settings.Path, relative)
                : string.IsNullOrEmpty(settings.Path) ? relative : settings.Path.TrimEnd('/') + "/" + relative,
            Url = settings.Url is { } url ? AppendToUrlPath(url, relative) : null,
        };
    }

    /// <summary>The entry for the database at <paramref name="dbPath"/> under this <c>dir</c> entry (upstream <c>newDBFromDirectoryEntry</c>).</summary>
    internal DbConfig ForDatabase(string dbPath)
    {
        string relative = System.IO.Path.GetRelativePath(Dir!, dbPath).Replace(System.IO.Path.DirectorySeparatorChar, '/');
        var copy = (DbConfig)MemberwiseClone();
        copy.Path = dbPath;
        copy.Dir = null;
        copy.Pattern = null;
        copy._glob = null;
        copy.Recursive = false;
        copy.Watch = false;
        copy._relativePath = relative;
        if (MetaPath is not null)
        {
            // Every database needs its own meta directory, or they clobber each other's state (upstream deriveMetaPathForDirectoryEntry).
            string? folder = System.IO.Path.GetDirectoryName(relative);
            copy.MetaPath = System.IO.Path.Join(MetaPath, folder, "." + System.IO.Path.GetFileName(relative) + "-litestream");
        }
        return copy;
    }

    private static string AppendToUrlPath(string url, string relative)
    {
        int query = url.IndexOf('?', StringComparison.Ordinal);
        string head = query < 0 ? url : url[..query];
        return head.TrimEnd('/') + "/" + relative + (query < 0 ? "" : url[query..]);
    }

    partial void OnBound(string path, ConfigContext context)
    {
        if (Path is not null && Dir is not null)
        {
            throw new ConfigException(path, "cannot specify both 'path' and 'dir'");
        }
        if (Path is null && Dir is null)
        {
            throw new ConfigException(path, "must specify either 'path' or 'dir'");
        }
        if (Dir is null && (Pattern is not null || Recursive || Watch))
        {
            throw new ConfigException(path, "'pattern', 'recursive' and 'watch' can only be used with 'dir'");
        }
        if (Path is not null)
        {
            Path = context.ResolveLocalPath(Path, ConfigNode.Child(path, "path"));
        }
        else
        {
            Dir = context.ResolveLocalPath(Dir, ConfigNode.Child(path, "dir"));
            if (Pattern is null)
            {
                throw new ConfigException(ConfigNode.Child(path, "pattern"), "required when using 'dir' (e.g. pattern: \"*.db\")");
            }
            _glob = Directories.GlobPattern.TryCreate(Pattern, out Directories.GlobPattern glob)
                ? glob
                : throw new ConfigException(ConfigNode.Child(path, "pattern"), $"invalid pattern \"{Pattern}\": a file-name glob such as *.db, *.sqlite or tenant-?.db");
        }
        if (MetaPath is not null)
        {
            MetaPath = context.ResolveLocalPath(MetaPath, ConfigNode.Child(path, "meta-path"));
        }
        if (Replicas is not null)
        {
            if (Replica is not null)
            {
                throw new ConfigException(path, "cannot specify both 'replica' and 'replicas'", "move the replica: section into the replicas: list, each with its own name:");
            }
            if (Replicas.Count == 0)
            {
                throw new ConfigException(ConfigNode.Child(path, "replicas"), "empty list", "list at least one replica, or use replica:");
            }
            Replica = Replicas[0];
        }
    }

    /// <summary>
    /// Refuses two replicas of this database with one name (the default name is the type: two replicas of one type
    /// need names), as v0.3 did; <c>restore -replica NAME</c>, status and metrics tell them apart by it.
    /// </summary>
    internal void CheckReplicaNames(string path, ReplicaConfig defaults)
    {
        if (Replicas is null)
        {
            return;
        }
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < Replicas.Count; i++)
        {
            string name = Replicas[i].DisplayName(defaults);
            if (name.Length == 0)
            {
                throw new ConfigException(ConfigNode.Child(ConfigNode.Item(ConfigNode.Child(path, "replicas"), i), "name"), "empty name", "give each replica a non-empty name:");
            }
            if (!seen.Add(name))
            {
                throw new ConfigException(ConfigNode.Child(ConfigNode.Item(ConfigNode.Child(path, "replicas"), i), "name"),
                    $"duplicate replica name \"{name}\"", "give each replica a unique name:; a replica without one is named by its type");
            }
        }
    }
}
