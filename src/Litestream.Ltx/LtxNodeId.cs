namespace Litestream.Ltx;

/// <summary>
/// What Litestream.Aot writes into the header's NodeID (LTX.md §2): the replica lease's generation, tagged so
/// that a NodeID another tool wrote (LiteFS puts a random node id there; upstream Litestream writes 0) is never
/// read as one. Generations only grow along a replica's TXID chain, so a file whose generation is below the one
/// before it was uploaded by a replicator that had already lost the lease (fencing).
/// </summary>
public static class LtxNodeId
{
    // "LG" in the top 16 bits; the generation in the low 48.
    private const ulong Tag = 0x4C47UL << 48;
    private const ulong TagMask = 0xFFFFUL << 48;

    /// <summary>The largest generation a NodeID can carry.</summary>
    public const long MaxGeneration = (1L << 48) - 1;

    /// <summary>The NodeID for lease generation <paramref name="generation"/> (1 … <see cref="MaxGeneration"/>).</summary>
    public static ulong FromLeaseGeneration(long generation)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(generation, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(generation, MaxGeneration);
        return Tag | (ulong)generation;
    }

    /// <summary>The lease generation <paramref name="nodeId"/> carries, or 0 when it carries none.</summary>
    public static long LeaseGeneration(ulong nodeId) => (nodeId & TagMask) == Tag ? (long)(nodeId & ~TagMask) : 0;
}
