namespace Litestream.Storage;

/// <summary>A Litestream v0.3 snapshot: <c>generations/&lt;gen&gt;/snapshots/&lt;index %08x&gt;.snapshot.lz4</c>.</summary>
/// <param name="Generation">16 lowercase hex characters.</param>
/// <param name="Index">Shadow-WAL index at snapshot time.</param>
/// <param name="Size">Compressed size in bytes.</param>
/// <param name="CreatedAt">Object modification time.</param>
internal sealed record LegacySnapshotInfo(string Generation, uint Index, long Size, DateTimeOffset CreatedAt)
{
    /// <summary>The object's path under the replica root.</summary>
    public string Path => $"generations/{Generation}/snapshots/{LegacyNames.Snapshot(Index)}";
}

/// <summary>A Litestream v0.3 WAL segment: <c>generations/&lt;gen&gt;/wal/&lt;index %08x&gt;_&lt;offset %08x&gt;.wal.lz4</c>.</summary>
/// <param name="Generation">16 lowercase hex characters.</param>
/// <param name="Index">Shadow-WAL index.</param>
/// <param name="Offset">Byte offset of the segment in that shadow WAL.</param>
/// <param name="Size">Compressed size in bytes.</param>
/// <param name="CreatedAt">Object modification time.</param>
internal sealed record LegacyWalSegmentInfo(string Generation, uint Index, long Offset, long Size, DateTimeOffset CreatedAt)
{
    /// <summary>The object's path under the replica root.</summary>
    public string Path => $"generations/{Generation}/wal/{LegacyNames.WalSegment(Index, Offset)}";
}

/// <summary>
/// Read access to a Litestream v0.3 replica (upstream <c>ReplicaClientV3</c>, V03-FORMAT.md), so
/// replicas written by v0.3 can be restored. Every object is one LZ4 frame, age-encrypted when the replica had
/// <c>age: recipients</c>.
/// </summary>
internal interface ILegacyReplicaClient
{
    /// <summary>Generation ids (16 lowercase hex), any order.</summary>
    IAsyncEnumerable<string> ListGenerationsAsync(CancellationToken cancellationToken);

    /// <summary>Snapshots of one generation.</summary>
    IAsyncEnumerable<LegacySnapshotInfo> ListSnapshotsAsync(string generation, CancellationToken cancellationToken);

    /// <summary>WAL segments of one generation.</summary>
    IAsyncEnumerable<LegacyWalSegmentInfo> ListWalSegmentsAsync(string generation, CancellationToken cancellationToken);

    /// <summary>Opens a snapshot object (still LZ4-framed).</summary>
    ValueTask<Stream> OpenSnapshotAsync(LegacySnapshotInfo snapshot, CancellationToken cancellationToken);

    /// <summary>Opens a WAL segment object (still LZ4-framed).</summary>
    ValueTask<Stream> OpenWalSegmentAsync(LegacyWalSegmentInfo segment, CancellationToken cancellationToken);
}
