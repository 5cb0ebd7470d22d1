namespace Litestream.Internal;

/// <summary>The bytes already read from the source (its header) followed by the rest of it, counting what is read.</summary>
internal sealed class HeaderedStream(ReadOnlyMemory<byte> head, Stream rest) : ReadOnlyStream
{
    private ReadOnlyMemory<byte> _head = head;

    /// <summary>
    /// Reads the LTX header at the start of an upload's <paramref name="data"/>: the body to send (header included)
    /// and the header's creation time, which backends store with the file (now, when the data has no LTX header).
    /// </summary>
    public static async ValueTask<(HeaderedStream Body, DateTimeOffset CreatedAt)> ReadLtxHeaderAsync(Stream data, CancellationToken cancellationToken)
    {
        byte[] header = new byte[Ltx.LtxConstants.HeaderSize];
        int read = await data.ReadAtLeastAsync(header, header.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        return (new HeaderedStream(header.AsMemory(0, read), data), Storage.ReplicaTimestamp.FromHeader(header.AsSpan(0, read)));
    }

    public long Count { get; private set; }

    public override int Read(Span<byte> buffer)
    {
        int n;
        if (!_head.IsEmpty)
        {
            n = Math.Min(buffer.Length, _head.Length);
            _head.Span[..n].CopyTo(buffer);
            _head = _head[n..];
        }
        else
        {
            n = rest.Read(buffer);
        }
        Count += n;
        return n;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int n;
        if (!_head.IsEmpty)
        {
            n = Math.Min(buffer.Length, _head.Length);
            _head.Span[..n].CopyTo(buffer.Span);
            _head = _head[n..];
        }
        else
        {
            n = await rest.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        Count += n;
        return n;
    }
}
