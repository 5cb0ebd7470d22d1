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
}
