namespace Litestream.Ltx;

/// <summary>
/// One LTX file as a replica lists it (ltx <c>FileInfo</c>): where it sits in the level hierarchy,
/// the TXID range it covers, its size and its creation time (the header timestamp, or the storage's
/// modification time when metadata is not read).
/// </summary>
/// <param name="Level">Compaction level: 0 for per-sync files, 1..8 for compactions, 9 for snapshots.</param>
/// <param name="MinTxid">First transaction the file covers.</param>
/// <param name="MaxTxid">Last transaction the file covers.</param>
/// <param name="Size">Size in bytes.</param>
/// <param name="CreatedAt">Creation time, UTC, millisecond precision.</param>
public sealed record LtxFileInfo(int Level, Txid MinTxid, Txid MaxTxid, long Size, DateTimeOffset CreatedAt);
