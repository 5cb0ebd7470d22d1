namespace Litestream.Storage;

/// <summary>
/// The replica's lease object (<c>lease.json</c>) as the backend stores it: its bytes, the version tag a conditional
/// write compares against, and times from the backend's own clock, so holders and waiters on machines whose clocks
/// disagree judge expiry by one clock.
/// </summary>
/// <param name="Content">The object's bytes (bounded by <see cref="MaxSize"/>; a larger object is cut there).</param>
/// <param name="ETag">The version tag: S3/Azure ETag, a content hash for file replicas.</param>
/// <param name="LastModified">When the backend last wrote it, by the backend's clock.</param>
/// <param name="ServerNow">The backend's clock when it answered (HTTP <c>Date</c>); null when it gives none (the local clock is used).</param>
public sealed record LeaseObject(ReadOnlyMemory<byte> Content, string ETag, DateTimeOffset LastModified, DateTimeOffset? ServerNow)
{
    /// <summary>Name of the lease object in the replica's path.</summary>
    public const string Name = "lease.json";

    /// <summary>Most bytes read of a lease object; a real one is ~200 bytes.</summary>
    public const int MaxSize = 4096;
}
