namespace Litestream.Ltx;

/// <summary>
/// The TXID chain of LTX files taken in order — applied by a restore or <c>restore -f</c>, merged by the
/// compactor — and the one place that says which file may follow which (upstream <c>IsContiguous</c>, LTX.md §9).
/// A gap or an overlap fails with both TXID ranges in the message; the caller names the file.
/// </summary>
public sealed class LtxTxidChain
{
    private readonly bool _allowOverlap;

    /// <summary>An empty chain: its first file may start anywhere.</summary>
    /// <param name="allowOverlap">Accept a file that starts at or before the chain's end and reaches past it.</param>
    public LtxTxidChain(bool allowOverlap) => _allowOverlap = allowOverlap;

    /// <summary>
    /// A chain that continues a state at <paramref name="position"/> whose last file's header is not at hand
    /// (a followed copy resumed from its TXID file): its first file is checked against the TXID alone.
    /// </summary>
    public LtxTxidChain(Txid position, bool allowOverlap)
    {
        Position = position;
        _allowOverlap = allowOverlap;
    }

    /// <summary>Header of the last file taken, null before the first.</summary>
    public LtxHeader? Last { get; private set; }

    /// <summary>The TXID the chain has reached (the last file's MaxTxid).</summary>
    public Txid Position { get; private set; }

    /// <summary>Takes <paramref name="next"/> as the chain's next file.</summary>
    /// <exception cref="LtxFormatException">It does not follow the chain (see <see cref="CheckNext"/>).</exception>
    public void Append(LtxHeader next)
    {
        CheckNext(next);
        Last = next;
        Position = next.MaxTxid;
    }

    /// <summary>Checks that <paramref name="next"/> may follow the chain, without taking it (see <see cref="Check"/>).</summary>
    /// <exception cref="LtxFormatException">It may not.</exception>
    public void CheckNext(LtxHeader next)
    {
        if (Last is { } previous)
        {
            Check(previous, next, _allowOverlap);
        }
        else if (!Position.IsZero)
        {
            if (next.MinTxid.Value > Position.Value + 1)
            {
                LtxThrow.Format($"transaction id gap: the chain is at {Position}, then {next.MinTxid}-{next.MaxTxid}");
            }
            if (_allowOverlap ? next.MaxTxid <= Position : next.MinTxid.Value != Position.Value + 1)
            {
                LtxThrow.Format($"overlapping transaction files: the chain is at {Position}, then {next.MinTxid}-{next.MaxTxid}");
            }
        }
    }

    /// <summary>
    /// File B may follow file A when B.Min = A.Max + 1; with overlap allowed, when
    /// B.Min ≤ A.Max + 1 and B.Max &gt; A.Max (upstream <c>IsContiguous</c>). When both carry a lease generation
    /// (<see cref="LtxNodeId"/>), B's may not be lower: B was then uploaded by a replicator that had lost the lease.
    /// </summary>
    /// <exception cref="LtxFormatException">B may not follow A.</exception>
    public static void Check(LtxHeader previous, LtxHeader next, bool allowOverlap)
    {
        if (next.PageSize != previous.PageSize)
        {
            LtxThrow.Format($"page size mismatch: {previous.PageSize} then {next.PageSize}");
        }
        ulong expected = previous.MaxTxid.Value + 1;
        if (next.MinTxid.Value > expected)
        {
            LtxThrow.Format($"transaction id gap between files: {previous.MinTxid}-{previous.MaxTxid} then {next.MinTxid}-{next.MaxTxid}");
        }
        if (allowOverlap ? next.MaxTxid <= previous.MaxTxid : next.MinTxid.Value != expected)
        {
            LtxThrow.Format($"overlapping transaction files: {previous.MinTxid}-{previous.MaxTxid} then {next.MinTxid}-{next.MaxTxid}");
        }
        if (previous.IsEncrypted && !next.IsEncrypted)
        {
            LtxThrow.Format($"{next.MinTxid}-{next.MaxTxid} is not encrypted but follows encrypted {previous.MinTxid}-{previous.MaxTxid}: written by a replicator without the encryption key");
        }
        long before = LtxNodeId.LeaseGeneration(previous.NodeId), after = LtxNodeId.LeaseGeneration(next.NodeId);
        if (after != 0 && after < before)
        {
            LtxThrow.Format($"{next.MinTxid}-{next.MaxTxid} was written under lease generation {after} after {previous.MinTxid}-{previous.MaxTxid} under generation {before}: a replicator that had lost the lease uploaded it");
        }
    }
}
