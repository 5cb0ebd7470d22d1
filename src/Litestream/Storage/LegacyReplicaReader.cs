namespace Litestream.Storage;

/// <summary>
/// A Litestream v0.3 replica read through any backend's <see cref="IReplicaObjectTree"/>: one listing of
/// <c>generations/</c> (taken on first use and kept for this reader's life, so a restore sees one consistent set),
/// parsed into generations, snapshots and WAL segments by their v0.3 names; anything else there is ignored.
/// </summary>
internal sealed class LegacyReplicaReader : ILegacyReplicaClient
{
    private const string Root = "generations/";

    private readonly IReplicaObjectTree _tree;
    private List<LegacySnapshotInfo>? _snapshots;
    private List<LegacyWalSegmentInfo>? _segments;

    private LegacyReplicaReader(IReplicaObjectTree tree) => _tree = tree;

    /// <summary>A reader for <paramref name="client"/>, or null when its backend cannot hold v0.3 generations.</summary>
    public static LegacyReplicaReader? For(IReplicaClient client) => client is IReplicaObjectTree tree ? new LegacyReplicaReader(tree) : null;

    /// <inheritdoc />
    public async IAsyncEnumerable<string> ListGenerationsAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await LoadAsync(cancellationToken).ConfigureAwait(false);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (string generation in _snapshots!.Select(static s => s.Generation).Concat(_segments!.Select(static w => w.Generation)))
        {
            if (seen.Add(generation))
            {
                yield return generation;
            }
        }
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<LegacySnapshotInfo> ListSnapshotsAsync(string generation, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await LoadAsync(cancellationToken).ConfigureAwait(false);
        foreach (LegacySnapshotInfo snapshot in _snapshots!.Where(s => s.Generation == generation))
        {
            yield return snapshot;
        }
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<LegacyWalSegmentInfo> ListWalSegmentsAsync(string generation, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await LoadAsync(cancellationToken).ConfigureAwait(false);
        foreach (LegacyWalSegmentInfo segment in _segments!.Where(w => w.Generation == generation))
        {
            yield return segment;
        }
    }

    /// <inheritdoc />
    public ValueTask<Stream> OpenSnapshotAsync(LegacySnapshotInfo snapshot, CancellationToken cancellationToken)
        => _tree.OpenObjectAsync(snapshot.Path, cancellationToken);

    /// <inheritdoc />
    public ValueTask<Stream> OpenWalSegmentAsync(LegacyWalSegmentInfo segment, CancellationToken cancellationToken)
        => _tree.OpenObjectAsync(segment.Path, cancellationToken);

    private async ValueTask LoadAsync(CancellationToken cancellationToken)
    {
        if (_snapshots is not null)
        {
            return;
        }
        var snapshots = new List<LegacySnapshotInfo>();
        var segments = new List<LegacyWalSegmentInfo>();
        await foreach (ReplicaObject item in _tree.ListObjectsAsync(Root, cancellationToken).ConfigureAwait(false))
        {
            // generations/<gen>/snapshots/<name> or generations/<gen>/wal/<name>: exactly four parts.
            string[] parts = item.Name.Split('/');
            if (parts.Length != 4 || parts[0] != "generations" || !LegacyNames.IsGeneration(parts[1]))
            {
                continue;
            }
            if (parts[2] == "snapshots" && LegacyNames.TryParseSnapshot(parts[3], out uint index))
            {
                snapshots.Add(new LegacySnapshotInfo(parts[1], index, item.Size, item.Modified));
            }
            else if (parts[2] == "wal" && LegacyNames.TryParseWalSegment(parts[3], out uint walIndex, out long offset))
            {
                segments.Add(new LegacyWalSegmentInfo(parts[1], walIndex, offset, item.Size, item.Modified));
            }
        }
        _segments = segments;
        _snapshots = snapshots;
    }
}
