using System.Buffers;
using Litestream.Internal;
using Litestream.Ltx;
using Litestream.Storage;

namespace Litestream.Restore;

/// <summary>
/// Reads one large remote LTX file as a forward stream while fetching it with parallel ranged GETs: the
/// file is cut into <see cref="ChunkSize"/> ranges, up to <c>parallelism</c> of them download at once into
/// pooled buffers, and the reader consumes them in order; each consumed chunk starts the next download.
/// The decoder therefore works on the first megabytes while the rest is still arriving (download, decode
/// and apply overlap), and memory stays at <c>parallelism × ChunkSize</c> whatever the file size.
/// </summary>
internal sealed class RangedDownloadStream : ReadOnlyStream
{
    /// <summary>Bytes per ranged GET (8 MiB: large enough that request overhead is small, small enough to start fast).</summary>
    public const int ChunkSize = 8 * 1024 * 1024;

    private readonly IReplicaClient _client;
    private readonly LtxFileInfo _info;
    private readonly CancellationTokenSource _cancel;
    private readonly Queue<Task<Chunk>> _inFlight = new();
    private readonly int _parallelism;
    private long _nextOffset;
    private Chunk? _current;
    private int _position;

    public RangedDownloadStream(IReplicaClient client, LtxFileInfo info, int parallelism, CancellationToken cancellationToken)
    {
        _client = client;
        _info = info;
        _parallelism = Math.Max(1, parallelism);
        _cancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Refill();
    }

    public override long Length => _info.Size;

    public override int Read(Span<byte> buffer)
    {
        if (!EnsureCurrent(sync: true).GetAwaiter().GetResult())
        {
            return 0;
        }
        return Take(buffer);
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (!await EnsureCurrent(sync: false).ConfigureAwait(false))
        {
            return 0;
        }
        return Take(buffer.Span);
    }

    private int Take(Span<byte> buffer)
    {
        int n = Math.Min(buffer.Length, _current!.Length - _position);
        _current.Buffer.AsSpan(_position, n).CopyTo(buffer);
        _position += n;
        return n;
    }

    private async ValueTask<bool> EnsureCurrent(bool sync)
    {
        if (_current is not null && _position < _current.Length)
        {
            return true;
        }
        _current?.Dispose();
        _current = null;
        if (_inFlight.Count == 0)
        {
            return false;
        }
        Task<Chunk> next = _inFlight.Dequeue();
        _current = sync ? next.GetAwaiter().GetResult() : await next.ConfigureAwait(false);
        _position = 0;
        Refill();
        return true; // every chunk holds at least one byte
    }

    private void Refill()
    {
        while (_inFlight.Count < _parallelism && _nextOffset < _info.Size)
        {
            long offset = _nextOffset;
            int length = (int)Math.Min(ChunkSize, _info.Size - offset);
            _nextOffset += length;
            _inFlight.Enqueue(Task.Run(() => FetchAsync(offset, length, _cancel.Token)));
        }
    }

    private async Task<Chunk> FetchAsync(long offset, int length, CancellationToken cancellationToken)
    {
        var chunk = new Chunk(length);
        try
        {
            await using Stream body = await _client.OpenLtxFileAsync(_info.Level, _info.MinTxid, _info.MaxTxid, offset, length, cancellationToken).ConfigureAwait(false);
            int filled = 0;
            while (filled < length)
            {
                int read = await body.ReadAsync(chunk.Buffer.AsMemory(filled, length - filled), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    throw new LtxFormatException($"file is shorter than its listed size {_info.Size} (ended at {offset + filled})");
                }
                filled += read;
            }
            return chunk;
        }
        catch
        {
            chunk.Dispose();
            throw;
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _cancel.Cancel();
            _current?.Dispose();
            _current = null;
            while (_inFlight.Count > 0)
            {
                Task<Chunk> pending = _inFlight.Dequeue();
                try
                {
                    pending.GetAwaiter().GetResult().Dispose();
                }
                catch (Exception)
                {
                    // Cancelled or failed after the reader stopped: nothing to return to the pool.
                }
            }
            _cancel.Dispose();
        }
        base.Dispose(disposing);
    }

    /// <summary>One downloaded range in a pooled buffer.</summary>
    private sealed class Chunk(int length) : IDisposable
    {
        private byte[]? _buffer = ArrayPool<byte>.Shared.Rent(length);

        public byte[] Buffer => _buffer!;

        public int Length { get; } = length;

        public void Dispose()
        {
            if (_buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = null;
            }
        }
    }
}
