using System.Diagnostics.CodeAnalysis;
using Litestream.Ltx;

namespace Litestream.Storage;

/// <summary>
/// The storage seam: one implementation per backend (file, s3, abs, …; one folder each under Storage/). Mirrors
/// upstream's Go <c>ReplicaClient</c> member for member. Implementations are safe for concurrent use. What a
/// caller needs beyond the contract is asked as a capability here (default members), never by testing the
/// concrete client type.
/// </summary>
public interface IReplicaClient : IAsyncDisposable
{
    /// <summary>Backend type name as used in config and URL schemes ("file", "s3", …).</summary>
    string Type { get; }

    /// <summary>Prepares the client (connects, resolves region…). Idempotent: a second call does nothing.</summary>
    ValueTask InitAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Lists the LTX files of one level ordered by (MinTxid, MaxTxid), skipping files whose MinTxid is
    /// below <paramref name="seek"/>. Names that are not LTX file names are ignored. With
    /// <paramref name="useMetadata"/> the accurate creation time is read (e.g. S3 object metadata) at
    /// the cost of extra requests; without it the cheap listing time is used. A missing level is empty.
    /// </summary>
    IAsyncEnumerable<LtxFileInfo> ListLtxFilesAsync(int level, Txid seek, bool useMetadata, CancellationToken cancellationToken);

    /// <summary>
    /// Opens a file for reading from byte <paramref name="offset"/>; <paramref name="size"/> bytes, or to
    /// the end when <paramref name="size"/> is 0. Throws <see cref="ReplicaFileNotFoundException"/> when absent.
    /// </summary>
    ValueTask<Stream> OpenLtxFileAsync(int level, Txid minTxid, Txid maxTxid, long offset, long size, CancellationToken cancellationToken);

    /// <summary>
    /// Writes a whole LTX file atomically (readers never see a partial file) and returns its info. The
    /// creation time stored with it is the LTX header timestamp read from <paramref name="data"/>.
    /// </summary>
    ValueTask<LtxFileInfo> WriteLtxFileAsync(int level, Txid minTxid, Txid maxTxid, Stream data, CancellationToken cancellationToken);

    /// <summary>Deletes the given files; files already gone are not an error.</summary>
    ValueTask DeleteLtxFilesAsync(IReadOnlyList<LtxFileInfo> files, CancellationToken cancellationToken);

    /// <summary>Deletes everything under the replica path.</summary>
    ValueTask DeleteAllAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Capability: the path of an LTX file when the replica is a directory on this machine, so a caller can read
    /// it in place (a positional read, no stream, no prefetch). False for remote storage.
    /// </summary>
    bool TryGetLocalPath(int level, Txid minTxid, Txid maxTxid, [NotNullWhen(true)] out string? path)
    {
        path = null;
        return false;
    }

    /// <summary>
    /// Capability: copies <paramref name="source"/> to <paramref name="level"/> inside the storage (a server-side
    /// copy, a hard link), atomically as <see cref="WriteLtxFileAsync"/>, without its bytes passing through this
    /// process. A compaction of one file is that file (issue 1407 upstream: identical bytes uploaded again at every
    /// level). Null when the backend has no such copy: the caller downloads and uploads.
    /// </summary>
    ValueTask<LtxFileInfo?> CopyLtxFileAsync(LtxFileInfo source, int level, CancellationToken cancellationToken) => ValueTask.FromResult<LtxFileInfo?>(null);

    /// <summary>
    /// Capability: null when the backend can keep the lease object (<see cref="LeaseObject.Name"/> in the replica's
    /// path) with an atomic create and compare-and-swap; else why it cannot (the lease members then throw
    /// <see cref="NotSupportedException"/> with it).
    /// </summary>
    string? LeaseUnsupportedReason => $"{Type} replicas cannot hold a lease: the backend offers no atomic compare-and-swap write";

    /// <summary>Reads the lease object; null when there is none. Bounded to <see cref="LeaseObject.MaxSize"/> bytes.</summary>
    ValueTask<LeaseObject?> ReadLeaseAsync(CancellationToken cancellationToken) => throw new NotSupportedException(LeaseUnsupportedReason);

    /// <summary>
    /// Writes the lease object atomically, only if it is still the version <paramref name="ifMatch"/> (null: only if
    /// there is none), and returns the new version tag.
    /// </summary>
    /// <exception cref="LeaseConflictException">The object is not (or no longer) that version.</exception>
    ValueTask<string> WriteLeaseAsync(ReadOnlyMemory<byte> content, string? ifMatch, CancellationToken cancellationToken) => throw new NotSupportedException(LeaseUnsupportedReason);
}
