using Litestream.Ltx;
using Litestream.Storage;

namespace Litestream.Restore;

/// <summary>
/// How far a follower copy (<c>restore -f</c>) is behind its replica's head (LiteFS's <c>Lag</c>, measured on the
/// replica instead of a heartbeat): <see cref="BehindTxids"/> is head TXID − applied TXID; <see cref="Behind"/> is
/// the head transaction's capture time − the applied transaction's capture time, both from their LTX headers (the
/// primary's clock), zero when caught up. It says how much newer the primary's newest replicated state is than the
/// copy's, not how long ago the copy last polled; transactions the primary has not uploaded yet are not counted.
/// </summary>
public sealed class FollowerLag
{
    private FollowerLag(string path, Txid applied, DateTimeOffset? appliedAt, Txid head, DateTimeOffset? headAt)
    {
        Path = path;
        AppliedTxid = applied;
        AppliedAt = appliedAt;
        HeadTxid = head;
        HeadAt = headAt;
    }

    /// <summary>The follower copy's path.</summary>
    public string Path { get; }

    /// <summary>The last transaction the copy applied (its <c>-txid</c> file, written after each apply).</summary>
    public Txid AppliedTxid { get; }

    /// <summary>When the primary captured <see cref="AppliedTxid"/>; null when no replica file ends at it (compacted into a larger one).</summary>
    public DateTimeOffset? AppliedAt { get; }

    /// <summary>The newest transaction the replica holds.</summary>
    public Txid HeadTxid { get; }

    /// <summary>When the primary captured <see cref="HeadTxid"/>.</summary>
    public DateTimeOffset? HeadAt { get; }

    /// <summary>Transactions the replica holds that the copy has not applied (0 when caught up or ahead).</summary>
    public ulong BehindTxids => HeadTxid > AppliedTxid ? HeadTxid.Value - AppliedTxid.Value : 0;

    /// <summary>
    /// The head's capture time less the applied transaction's (zero when caught up); null when behind and one of the
    /// two times is unknown.
    /// </summary>
    public TimeSpan? Behind => BehindTxids == 0 ? TimeSpan.Zero
        : AppliedAt is { } applied && HeadAt is { } head ? (head > applied ? head - applied : TimeSpan.Zero) : null;

    /// <summary>
    /// Measures the lag of the follower copy at <paramref name="followerPath"/> behind <paramref name="client"/>'s replica:
    /// lists every level once and reads the LTX headers of the two files that end at the applied and the head TXIDs.
    /// </summary>
    /// <exception cref="FileNotFoundException">The path has no follower position (it is not a <c>restore -f</c> copy).</exception>
    public static async ValueTask<FollowerLag> MeasureAsync(string followerPath, IReplicaClient client, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        string path = System.IO.Path.GetFullPath(followerPath);
        string position = Follower.TxidPath(path);
        if (!File.Exists(position))
        {
            throw new FileNotFoundException($"{path} has no follower position ({position} does not exist): it is not a copy 'restore -f' keeps current", position);
        }
        string text = (await File.ReadAllTextAsync(position, cancellationToken).ConfigureAwait(false)).Trim();
        if (!Txid.TryParse(text, out Txid applied))
        {
            throw new InvalidDataException($"{position} does not hold a TXID (16 hex digits): \"{(text.Length > 40 ? text[..40] + "…" : text)}\"");
        }
        return await MeasureAsync(path, applied, client, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The lag of a reader named <paramref name="path"/> that has applied through <paramref name="applied"/> (a follower
    /// copy, a VFS replica) behind <paramref name="client"/>'s replica: lists every level once and reads the LTX headers
    /// of the two files that end at the applied and the head TXIDs.
    /// </summary>
    internal static async ValueTask<FollowerLag> MeasureAsync(string path, Txid applied, IReplicaClient client, CancellationToken cancellationToken)
    {
        await client.InitAsync(cancellationToken).ConfigureAwait(false);
        LtxFileInfo? head = null, appliedFile = null;
        for (int level = 0; level <= LtxConstants.SnapshotLevel; level++)
        {
            await foreach (LtxFileInfo info in client.ListLtxFilesAsync(level, Txid.Zero, false, cancellationToken).ConfigureAwait(false))
            {
                // Lowest level first: its file is the one transaction itself, not a compaction ending there.
                if (head is null || info.MaxTxid > head.MaxTxid)
                {
                    head = info;
                }
                if (info.MaxTxid == applied && appliedFile is null)
                {
                    appliedFile = info;
                }
            }
        }
        if (head is null)
        {
            throw new NoBackupException($"replica {client} holds no backup");
        }
        DateTimeOffset? headAt = await CapturedAtAsync(client, head, cancellationToken).ConfigureAwait(false);
        DateTimeOffset? appliedAt = appliedFile is null ? null
            : ReferenceEquals(appliedFile, head) ? headAt
            : await CapturedAtAsync(client, appliedFile, cancellationToken).ConfigureAwait(false);
        return new FollowerLag(path, applied, appliedAt, head.MaxTxid, headAt);
    }

    /// <summary>The LTX header's timestamp of <paramref name="file"/> (one ranged read); null when it went meanwhile (compaction).</summary>
    private static async ValueTask<DateTimeOffset?> CapturedAtAsync(IReplicaClient client, LtxFileInfo file, CancellationToken cancellationToken)
        => (await ReplicaFileHeader.TryReadAsync(client, file, cancellationToken).ConfigureAwait(false))?.CreatedAt;
}
