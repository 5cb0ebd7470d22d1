using System.Diagnostics.CodeAnalysis;
using Litestream.Internal;
using Litestream.Ltx;

namespace Litestream.Storage;

/// <summary>
/// A replica client that counts what it moves into an <see cref="ITransferProgress"/> (the CLI's progress line, the VFS's hydration progress): every byte read from a download
/// (whole files and the ranged reads of a segmented restore) and from an upload's data, and each file begun. It
/// claims no local path, so a file replica's small files are fetched like a remote's, within the restore's prefetch
/// budget, and their bytes are counted too. It hides what the backend's client is beyond <see cref="IReplicaClient"/>
/// (a v0.3 replica's generations), so it wraps only what needs nothing more: a planned LTX restore, uploads.
/// </summary>
public sealed class ProgressReplicaClient(IReplicaClient inner, ITransferProgress progress) : IReplicaClient
{
    private readonly HashSet<(int, Txid, Txid)> _opened = [];

    /// <inheritdoc/>
    public string Type => inner.Type;

    /// <inheritdoc/>
    public ValueTask InitAsync(CancellationToken cancellationToken) => inner.InitAsync(cancellationToken);

    /// <inheritdoc/>
    public IAsyncEnumerable<LtxFileInfo> ListLtxFilesAsync(int level, Txid seek, bool useMetadata, CancellationToken cancellationToken)
        => inner.ListLtxFilesAsync(level, seek, useMetadata, cancellationToken);

    /// <inheritdoc/>
    public async ValueTask<Stream> OpenLtxFileAsync(int level, Txid minTxid, Txid maxTxid, long offset, long size, CancellationToken cancellationToken)
    {
        lock (_opened)
        {
            if (_opened.Add((level, minTxid, maxTxid)))
            {
                progress.AddFile();
            }
        }
        return new CountingStream(await inner.OpenLtxFileAsync(level, minTxid, maxTxid, offset, size, cancellationToken).ConfigureAwait(false), progress);
    }

    /// <inheritdoc/>
    public ValueTask<LtxFileInfo> WriteLtxFileAsync(int level, Txid minTxid, Txid maxTxid, Stream data, CancellationToken cancellationToken)
    {
        progress.AddTotal(data.CanSeek ? Math.Max(0, data.Length - data.Position) : 0, 1);
        progress.AddFile();
        return inner.WriteLtxFileAsync(level, minTxid, maxTxid, new CountingStream(data, progress, leaveOpen: true), cancellationToken);
    }

    // A copy inside the storage moves no bytes through this process: nothing to count.
    /// <inheritdoc/>
    public ValueTask<LtxFileInfo?> CopyLtxFileAsync(LtxFileInfo source, int level, CancellationToken cancellationToken)
        => inner.CopyLtxFileAsync(source, level, cancellationToken);

    /// <inheritdoc/>
    public string? LeaseUnsupportedReason => inner.LeaseUnsupportedReason;

    /// <inheritdoc/>
    public ValueTask<LeaseObject?> ReadLeaseAsync(CancellationToken cancellationToken) => inner.ReadLeaseAsync(cancellationToken);

    /// <inheritdoc/>
    public ValueTask<string> WriteLeaseAsync(ReadOnlyMemory<byte> content, string? ifMatch, CancellationToken cancellationToken) => inner.WriteLeaseAsync(content, ifMatch, cancellationToken);

    /// <inheritdoc/>
    public ValueTask DeleteLtxFilesAsync(IReadOnlyList<LtxFileInfo> files, CancellationToken cancellationToken) => inner.DeleteLtxFilesAsync(files, cancellationToken);

    /// <inheritdoc/>
    public ValueTask DeleteAllAsync(CancellationToken cancellationToken) => inner.DeleteAllAsync(cancellationToken);

    /// <inheritdoc/>
    public bool TryGetLocalPath(int level, Txid minTxid, Txid maxTxid, [NotNullWhen(true)] out string? path)
    {
        path = null;
        return false;
    }

    /// <inheritdoc/>
    public ValueTask DisposeAsync() => inner.DisposeAsync();

    /// <summary>
    /// A read-through stream that adds every byte read to the progress line; with <c>once</c>, only bytes past the
    /// furthest position read (a window re-read from its start: a retried part, the header peeked at). Over a file it
    /// lets an S3 upload read the file in place through counting windows (<see cref="IFileBackedStream"/>).
    /// </summary>
    private sealed class CountingStream(Stream inner, ITransferProgress progress, bool leaveOpen = false, bool once = false) : Stream, IFileBackedStream
    {
        private long _furthest;

        public FileStream? File => inner as FileStream;

        public Stream Wrap(Stream window) => new CountingStream(window, progress, once: true);

        public override bool CanRead => inner.CanRead;
        public override bool CanSeek => inner.CanSeek;
        public override bool CanWrite => false;
        public override long Length => inner.Length;

        public override long Position
        {
            get => inner.Position;
            set => inner.Position = value;
        }

        public override int Read(byte[] buffer, int offset, int count) => Counted(inner.Read(buffer, offset, count));

        public override int Read(Span<byte> buffer) => Counted(inner.Read(buffer));

        public override async Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
            => Counted(await inner.ReadAsync(buffer.AsMemory(offset, count), cancellationToken).ConfigureAwait(false));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
            => Counted(await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false));

        public override long Seek(long offset, SeekOrigin origin) => inner.Seek(offset, origin);

        public override void Flush()
        {
        }

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing && !leaveOpen)
            {
                inner.Dispose();
            }
            base.Dispose(disposing);
        }

        public override async ValueTask DisposeAsync()
        {
            if (!leaveOpen)
            {
                await inner.DisposeAsync().ConfigureAwait(false);
            }
            await base.DisposeAsync().ConfigureAwait(false);
        }

        private int Counted(int read)
        {
            if (!once)
            {
                progress.AddBytes(read);
            }
            else if (inner.Position > _furthest)
            {
                progress.AddBytes(inner.Position - _furthest);
                _furthest = inner.Position;
            }
            return read;
        }
    }
}
