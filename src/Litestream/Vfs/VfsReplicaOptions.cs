using Litestream.Events;
using Litestream.Lease;
using Litestream.Ltx;

namespace Litestream.Vfs;

/// <summary>
/// How a replica opened through the <c>litestream</c> VFS is read: ncruces' <c>litestream.ReplicaOptions</c>.
/// The Vfs prefix keeps it apart from the engine's <see cref="Litestream.Replication.ReplicaOptions"/>, so an
/// app that replicates and reads through the VFS can import both namespaces without an ambiguous name.
/// </summary>
public sealed record VfsReplicaOptions
{
    /// <summary>Default <see cref="PollInterval"/>: one second, as upstream.</summary>
    public static readonly TimeSpan DefaultPollInterval = TimeSpan.FromSeconds(1);

    /// <summary>Default <see cref="CacheSize"/>: 10 MiB, as upstream.</summary>
    public const long DefaultCacheSize = 10 * 1024 * 1024;

    /// <summary>How often the replica is listed for new LTX files.</summary>
    public TimeSpan PollInterval { get; init; } = DefaultPollInterval;

    /// <summary>Bytes of decoded pages kept in the LRU page cache (page 1 is kept besides, never evicted).</summary>
    public long CacheSize { get; init; } = DefaultCacheSize;

    /// <summary>
    /// Downloads the whole database in the background to <see cref="HydrationPath"/> (the segmented parallel
    /// restore) while reads are served from the replica, then serves reads from that local copy, which keeps
    /// following new LTX files (upstream <c>LITESTREAM_HYDRATION_ENABLED</c>).
    /// </summary>
    public bool HydrationEnabled { get; init; }

    /// <summary>
    /// Where hydration writes the local copy (upstream <c>LITESTREAM_HYDRATION_PATH</c>); it is replaced by a
    /// fresh download on every start and kept at close. Null: a file in a new temp directory, deleted at close.
    /// </summary>
    public string? HydrationPath { get; init; }

    /// <summary>
    /// Keys of an encrypted replica (docs/ENCRYPTION.md): pages are opened one at a time as they are read, files under
    /// any key of the ring are read. Null: a replica with encrypted files fails to open, naming the key id.
    /// </summary>
    public LtxKeyRing? Encryption { get; init; }

    /// <summary>
    /// Called on the poller's thread with a <see cref="ReplicationEventKind.Tx"/> event (LiteFS's <c>tx</c>) each time
    /// polling applies new replica files: <see cref="ReplicationEvent.Db"/> is the replica's name,
    /// <see cref="ReplicationEvent.Txid"/> the newest TXID now readable, <see cref="ReplicationEvent.Timestamp"/> its
    /// capture time on the primary, <see cref="ReplicationEvent.Size"/> the bytes of the files applied (0 when a gap
    /// made the VFS rebuild from a restore plan). Not called for the first open. It must return quickly.
    /// </summary>
    public Action<ReplicationEvent>? Applied { get; init; }

    /// <summary>Default <see cref="SyncInterval"/>: one second, as upstream's <c>DefaultSyncInterval</c>.</summary>
    public static readonly TimeSpan DefaultSyncInterval = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Write mode (upstream <c>LITESTREAM_WRITE_ENABLED</c>): connections may write. The first write transaction takes
    /// the replica's lease (<c>lease.json</c>, <see cref="Lease"/>); committed pages go to a local buffer file
    /// (<see cref="BufferPath"/>, fsynced at commit) and are read back at once; every <see cref="SyncInterval"/> they
    /// are uploaded as one L0 file at the next TXID carrying the lease generation. A write transaction gets
    /// SQLITE_BUSY (the reason logged) while another writer holds the lease, or once the replica moved past the TXID
    /// the buffered writes are based on (a conflict: those writes are never uploaded). An empty replica is created.
    /// Not with <see cref="HydrationEnabled"/> (ignored) or <see cref="Encryption"/> (refused at open).
    /// </summary>
    public bool WriteEnabled { get; init; }

    /// <summary>How often buffered commits are uploaded (upstream <c>LITESTREAM_SYNC_INTERVAL</c>).</summary>
    public TimeSpan SyncInterval { get; init; } = DefaultSyncInterval;

    /// <summary>
    /// The write buffer file (upstream <c>LITESTREAM_BUFFER_PATH</c>); its content is discarded at open, as upstream.
    /// Null: a file in a new temp directory, deleted at close.
    /// </summary>
    public string? BufferPath { get; init; }

    /// <summary>The lease a writer takes (its TTL, and how long to wait for another holder: zero fails at once).</summary>
    public LeaseOptions Lease { get; init; } = new();
}
