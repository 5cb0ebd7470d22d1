using Litestream.Lease;
using Litestream.Replication;

namespace Litestream.Aot.Config;

/// <summary>
/// The one place the config becomes the engine's options: a database's <see cref="DbOptions"/>, a replica's
/// <see cref="ReplicaOptions"/> (with its <see cref="LeaseOptions"/>), and the store's <see cref="StoreOptions"/>
/// and <see cref="CompactionOptions"/>. A replica key unset in its own section falls back to the top-level one,
/// then to upstream's default.
/// </summary>
internal static class EngineOptions
{
    public static DbOptions ToDbOptions(this DbConfig db) => new()
    {
        MonitorInterval = db.MonitorInterval,
        CheckpointInterval = db.CheckpointInterval,
        BusyTimeout = db.BusyTimeout,
        MinCheckpointPageCount = db.MinCheckpointPageCount,
        TruncatePageN = db.TruncatePageN,
        MaxSyncWalBytes = db.MaxSyncWalBytes,
        MetaPath = db.MetaPath,
    };

    /// <summary>A replica's options; <paramref name="lease"/> (when enabled) leases the replica, waiting up to <paramref name="leaseWait"/> for it.</summary>
    public static ReplicaOptions ToReplicaOptions(this ReplicaConfig replica, LitestreamConfig cfg, LeaseConfig? lease = null, TimeSpan leaseWait = default) => new()
    {
        Lease = lease is { Enabled: true } ? new LeaseOptions { Ttl = lease.Ttl, Wait = leaseWait } : null,
        Encryption = replica.EncryptionKeys(cfg.ReplicaDefaults),
        SyncInterval = replica.SyncInterval ?? cfg.ReplicaDefaults.SyncInterval ?? TimeSpan.FromSeconds(1),
        MaxSyncLtxFiles = replica.MaxSyncLtxFiles ?? cfg.ReplicaDefaults.MaxSyncLtxFiles ?? 256,
        AutoRecover = replica.AutoRecover ?? cfg.ReplicaDefaults.AutoRecover ?? false,
        ValidationInterval = replica.ValidationInterval ?? cfg.ReplicaDefaults.ValidationInterval ?? cfg.Validation.Interval ?? TimeSpan.Zero,
    };

    public static StoreOptions ToStoreOptions(this LitestreamConfig cfg) => new()
    {
        ShutdownSyncTimeout = cfg.ShutdownSyncTimeout,
        ShutdownSyncInterval = cfg.ShutdownSyncInterval,
    };

    public static CompactionOptions ToCompactionOptions(this LitestreamConfig cfg) => new()
    {
        Levels = cfg.Levels,
        SnapshotInterval = cfg.SnapshotInterval,
        SnapshotRetention = cfg.SnapshotRetention,
        L0Retention = cfg.L0Retention,
        L0RetentionCheckInterval = cfg.L0RetentionCheckInterval,
        RetentionEnabled = cfg.RetentionEnabled,
        VerifyCompaction = cfg.VerifyCompaction,
    };
}
