using Litestream.Storage;

namespace Litestream.Aot.Config;

/// <summary>The whole config file (upstream <c>Config</c>). Defaults as upstream v0.5.</summary>
public sealed class LitestreamConfig
{
    /// <summary>Prometheus metrics address (<c>addr</c>).</summary>
    public string? Addr { get; set; }
    /// <summary>Compaction level intervals for L1..LN (<c>levels</c>).</summary>
    public List<TimeSpan> Levels { get; set; } = [TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(5), TimeSpan.FromHours(1)];
    /// <summary><c>snapshot.interval</c>.</summary>
    public TimeSpan SnapshotInterval { get; set; } = TimeSpan.FromHours(24);
    /// <summary><c>snapshot.retention</c>.</summary>
    public TimeSpan SnapshotRetention { get; set; } = TimeSpan.FromHours(24);
    /// <summary><c>l0-retention</c>.</summary>
    public TimeSpan L0Retention { get; set; } = TimeSpan.FromMinutes(5);
    /// <summary><c>l0-retention-check-interval</c>.</summary>
    public TimeSpan L0RetentionCheckInterval { get; set; } = TimeSpan.FromSeconds(15);
    /// <summary><c>retention.enabled</c>.</summary>
    public bool RetentionEnabled { get; set; } = true;
    /// <summary><c>verify-compaction</c>.</summary>
    public bool VerifyCompaction { get; set; }
    /// <summary><c>socket.enabled</c>: serve the control socket (start, stop, sync, register, unregister, info, list).</summary>
    public bool SocketEnabled { get; set; }
    /// <summary><c>socket.path</c>.</summary>
    public string SocketPath { get; set; } = "/var/run/litestream.sock";
    /// <summary><c>socket.permissions</c> (octal in the YAML, as Go reads <c>0600</c>).</summary>
    public UnixFileMode SocketPermissions { get; set; } = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    /// <summary><c>shutdown-sync-timeout</c>.</summary>
    public TimeSpan ShutdownSyncTimeout { get; set; } = TimeSpan.FromSeconds(30);
    /// <summary><c>shutdown-sync-interval</c>.</summary>
    public TimeSpan ShutdownSyncInterval { get; set; } = TimeSpan.FromMilliseconds(500);
    /// <summary><c>exec</c>: command to run; replication stops when it exits.</summary>
    public string? Exec { get; set; }
    /// <summary><c>logging.level</c>.</summary>
    public string? LogLevel { get; set; }
    /// <summary><c>logging.type</c> (text or json).</summary>
    public string? LogType { get; set; }
    /// <summary>Replica keys given at the top level: defaults for every replica.</summary>
    public ReplicaConfig ReplicaDefaults { get; set; } = new();
    /// <summary><c>dbs</c>.</summary>
    public List<DbConfig> Dbs { get; set; } = [];
}

/// <summary>One <c>dbs[]</c> entry.</summary>
public sealed class DbConfig
{
    /// <summary><c>path</c> (absolute after loading).</summary>
    public string? Path { get; set; }
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
    public long MaxSyncWalBytes { get; set; } = 64L * 1024 * 1024;
    /// <summary><c>restore-if-db-not-exists</c>.</summary>
    public bool RestoreIfDbNotExists { get; set; }
    /// <summary><c>replica</c> (or the single element of the legacy <c>replicas</c> list).</summary>
    public ReplicaConfig? Replica { get; set; }
}

/// <summary>One replica section (or the top-level defaults).</summary>
public sealed class ReplicaConfig
{
    /// <summary><c>url</c>.</summary>
    public string? Url { get; set; }
    /// <summary><c>type</c>.</summary>
    public string? Type { get; set; }
    /// <summary><c>path</c>.</summary>
    public string? Path { get; set; }
    /// <summary><c>sync-interval</c>.</summary>
    public TimeSpan? SyncInterval { get; set; }
    /// <summary><c>max-sync-ltx-files</c>.</summary>
    public int? MaxSyncLtxFiles { get; set; }
    /// <summary><c>auto-recover</c>.</summary>
    public bool? AutoRecover { get; set; }
    /// <summary>Backend keys (bucket, region, …) as parsed; unknown to the replication loop.</summary>
    public ReplicaSettings Settings { get; set; } = new();

    /// <summary>
    /// The backend settings: the URL's parts, then the explicit keys, then the top-level defaults for
    /// anything still unset.
    /// </summary>
    public ReplicaSettings ToSettings(ReplicaConfig defaults)
    {
        string? url = Url ?? defaults.Url;
        ReplicaSettings s = url is not null ? ReplicaUrl.Parse(url) : new ReplicaSettings();
        ReplicaSettings mine = Settings, global = defaults.Settings;
        return s with
        {
            Type = Type ?? s.Type ?? defaults.Type ?? "file",
            Path = Path ?? s.Path ?? defaults.Path,
            Bucket = mine.Bucket ?? s.Bucket ?? global.Bucket,
            Region = mine.Region ?? s.Region ?? global.Region,
            Endpoint = mine.Endpoint ?? s.Endpoint ?? global.Endpoint,
            ForcePathStyle = mine.ForcePathStyle ?? s.ForcePathStyle ?? global.ForcePathStyle,
            SkipVerify = mine.SkipVerify || s.SkipVerify || global.SkipVerify,
            SignPayload = mine.SignPayload ?? s.SignPayload ?? global.SignPayload,
            RequireContentMd5 = mine.RequireContentMd5 ?? s.RequireContentMd5 ?? global.RequireContentMd5,
            StorageClass = mine.StorageClass ?? s.StorageClass ?? global.StorageClass,
            PartSize = mine.PartSize != 0 ? mine.PartSize : s.PartSize != 0 ? s.PartSize : global.PartSize,
            Concurrency = mine.Concurrency != 0 ? mine.Concurrency : s.Concurrency != 0 ? s.Concurrency : global.Concurrency,
            AccessKeyId = mine.AccessKeyId ?? global.AccessKeyId,
            SecretAccessKey = mine.SecretAccessKey ?? global.SecretAccessKey,
            SseCustomerAlgorithm = mine.SseCustomerAlgorithm ?? global.SseCustomerAlgorithm,
            SseCustomerKey = mine.SseCustomerKey ?? s.SseCustomerKey ?? global.SseCustomerKey,
            SseCustomerKeyPath = mine.SseCustomerKeyPath ?? global.SseCustomerKeyPath,
            SseKmsKeyId = mine.SseKmsKeyId ?? s.SseKmsKeyId ?? global.SseKmsKeyId,
            AccountName = mine.AccountName ?? s.AccountName ?? global.AccountName,
            AccountKey = mine.AccountKey ?? global.AccountKey,
            SasToken = mine.SasToken ?? global.SasToken,
            Host = mine.Host ?? s.Host ?? global.Host,
            User = mine.User ?? s.User ?? global.User,
            Password = mine.Password ?? s.Password ?? global.Password,
            KeyPath = mine.KeyPath ?? global.KeyPath,
            HostKey = mine.HostKey ?? global.HostKey,
            ConcurrentWrites = mine.ConcurrentWrites ?? global.ConcurrentWrites,
            WebDavUrl = mine.WebDavUrl ?? s.WebDavUrl ?? global.WebDavUrl,
            WebDavUsername = mine.WebDavUsername ?? global.WebDavUsername,
            WebDavPassword = mine.WebDavPassword ?? global.WebDavPassword,
        };
    }
}
