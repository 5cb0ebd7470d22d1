namespace Litestream.Replication;

/// <summary>Per-database replication settings (upstream <c>DB</c> fields; defaults as upstream v0.5).</summary>
public sealed record DbOptions
{
    /// <summary>
    /// How often the WAL is checked when it cannot be watched (no inotify), and the shortest spacing of two L0
    /// files while changes keep arriving (upstream 1 s). A change after a quiet gap is synced at once. A watched
    /// WAL wakes the replicator on its next write instead; a quiet database is then looked at when a time-based
    /// checkpoint falls due, and at least every 10 intervals.
    /// </summary>
    public TimeSpan MonitorInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>A passive checkpoint runs when this much time passed since the last one and data was synced (1 min).</summary>
    public TimeSpan CheckpointInterval { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>WAL size in pages that triggers a passive checkpoint (1000).</summary>
    public int MinCheckpointPageCount { get; init; } = 1000;

    /// <summary>WAL size in pages that triggers a truncating checkpoint (121359 ≈ 500 MB at 4 KiB; 0 disables).</summary>
    public int TruncatePageN { get; init; } = 121359;

    /// <summary>SQLite busy timeout for the replicator's own connections (1 s).</summary>
    public TimeSpan BusyTimeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Upper bound of WAL bytes turned into one L0 file (64 MiB), cut at a commit boundary.</summary>
    public long MaxSyncWalBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>
    /// With several replicas: the most bytes of local L0 files kept for a replica that lags behind another (1 GiB).
    /// Past it the lagging replica is released (an ERROR line; <see cref="Replica.IsBehind"/>): its files go as the
    /// others upload, and when it recovers it is resynced with a level-9 snapshot. The replica furthest ahead is never
    /// released, so a lone replica keeps everything it needs, as before.
    /// </summary>
    public long ReplicaBacklogLimit { get; init; } = 1L << 30;

    /// <summary>
    /// The most bytes of local L0 files kept after every replica has them, only so that each replica's level-1 compaction
    /// reads them from disk instead of downloading them again (64 MiB; a steady writer needs one L1 interval of them).
    /// Past it the oldest go and that compaction downloads them; each level-1 pass deletes what it merged.
    /// </summary>
    public long L0CompactionCacheLimit { get; init; } = 64L * 1024 * 1024;

    /// <summary>
    /// How long a database with nothing new to capture keeps its two SQLite connections and its read transaction
    /// (10 s; zero keeps them open). Then they are closed until the WAL changes, so an idle database costs no
    /// connection; the WAL is checked exactly as before when they open again (a restart by another process meanwhile is
    /// detected from its salts and checksum chain).
    /// </summary>
    public TimeSpan IdleConnectionTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Directory for local state; default <c>&lt;dir&gt;/.&lt;file&gt;-litestream</c>.</summary>
    public string? MetaPath { get; init; }
}
