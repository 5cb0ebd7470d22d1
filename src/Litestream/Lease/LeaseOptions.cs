namespace Litestream.Lease;

/// <summary>
/// The single-writer lease on a replica (<c>lease: {enabled: true, ttl: 30s}</c>): before uploading anything a
/// replicator takes <c>lease.json</c> in the replica's path with the backend's atomic compare-and-swap, renews it
/// every <see cref="Ttl"/>/3, and stops uploading before it could expire unrenewed.
/// </summary>
public sealed record LeaseOptions
{
    /// <summary>The shortest <see cref="Ttl"/>: renewals every second, uploads stop a second before expiry.</summary>
    public static readonly TimeSpan MinTtl = TimeSpan.FromSeconds(3);

    /// <summary>How long the lease lasts without renewal (30 s, as upstream's <c>DefaultLeaseTTL</c>); a dead holder's lease frees after it.</summary>
    public TimeSpan Ttl { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long to wait for a lease another holder has (zero: fail at once with who holds it and until when).</summary>
    public TimeSpan Wait { get; init; }

    /// <summary>The gap between renewals.</summary>
    internal TimeSpan RenewInterval => Ttl / 3;

    /// <summary>
    /// How long before the lease's expiry (measured from when its last renewal was sent) the holder stops uploading:
    /// a sixth of the TTL and at least a second, which covers HTTP's whole-second <c>Last-Modified</c>.
    /// </summary>
    internal TimeSpan Margin => Ttl / 6 > TimeSpan.FromSeconds(1) ? Ttl / 6 : TimeSpan.FromSeconds(1);
}
