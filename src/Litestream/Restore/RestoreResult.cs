using Litestream.Ltx;

namespace Litestream.Restore;

/// <summary>The outcome of a restore.</summary>
/// <param name="Plan">Files applied, in order.</param>
/// <param name="Txid">TXID of the restored state.</param>
/// <param name="PageSize">Page size of the database.</param>
/// <param name="Commit">Size of the database in pages.</param>
public sealed record RestoreResult(IReadOnlyList<LtxFileInfo> Plan, Txid Txid, uint PageSize, uint Commit)
{
    /// <summary>
    /// The Litestream v0.3 generation restored, when the replica's newest backup was a v0.3 generation
    /// (a replica upgraded from v0.3 in place); <see cref="Plan"/> is then empty and <see cref="Txid"/> zero.
    /// </summary>
    public string? LegacyGeneration { get; init; }

    /// <summary>
    /// Files of <see cref="Plan"/> that were not encrypted although <see cref="RestoreOptions.Encryption"/> gave keys:
    /// written before encryption was switched on (the next snapshot seals the chain), or by a replicator without
    /// the key. They restore as they are; the caller warns.
    /// </summary>
    public int UnencryptedFiles { get; init; }
}
