using Litestream.Ltx;
using Litestream.Storage;

namespace Litestream.Tests.Fixtures;

/// <summary>
/// A backend that forwards every call, capabilities included, to <paramref name="inner"/>: tests derive from it and
/// override only the call whose behaviour they change (a damaged write, a lost answer, a slow upload).
/// </summary>
public class DelegatingReplicaClient(IReplicaClient inner) : IReplicaClient
{
    protected IReplicaClient Inner => inner;

    public string Type => inner.Type;

    public string? LeaseUnsupportedReason => inner.LeaseUnsupportedReason;

    public virtual ValueTask InitAsync(CancellationToken cancellationToken) => inner.InitAsync(cancellationToken);

    public virtual IAsyncEnumerable<LtxFileInfo> ListLtxFilesAsync(int level, Txid seek, bool useMetadata, CancellationToken cancellationToken)
        => inner.ListLtxFilesAsync(level, seek, useMetadata, cancellationToken);

    public virtual ValueTask<Stream> OpenLtxFileAsync(int level, Txid minTxid, Txid maxTxid, long offset, long size, CancellationToken cancellationToken)
        => inner.OpenLtxFileAsync(level, minTxid, maxTxid, offset, size, cancellationToken);

    public virtual ValueTask<LtxFileInfo> WriteLtxFileAsync(int level, Txid minTxid, Txid maxTxid, Stream data, CancellationToken cancellationToken)
        => inner.WriteLtxFileAsync(level, minTxid, maxTxid, data, cancellationToken);

    public virtual ValueTask<LtxFileInfo?> CopyLtxFileAsync(LtxFileInfo source, int level, CancellationToken cancellationToken)
        => inner.CopyLtxFileAsync(source, level, cancellationToken);

    public virtual ValueTask DeleteLtxFilesAsync(IReadOnlyList<LtxFileInfo> files, CancellationToken cancellationToken) => inner.DeleteLtxFilesAsync(files, cancellationToken);

    public virtual ValueTask DeleteAllAsync(CancellationToken cancellationToken) => inner.DeleteAllAsync(cancellationToken);

    public virtual ValueTask<LeaseObject?> ReadLeaseAsync(CancellationToken cancellationToken) => inner.ReadLeaseAsync(cancellationToken);

    public virtual ValueTask<string> WriteLeaseAsync(ReadOnlyMemory<byte> content, string? ifMatch, CancellationToken cancellationToken)
        => inner.WriteLeaseAsync(content, ifMatch, cancellationToken);

    public virtual ValueTask DisposeAsync() => inner.DisposeAsync();

    public override string? ToString() => inner.ToString();
}
