using System.Buffers;

namespace Litestream.Ltx.Buffers;

/// <summary>
/// A forward-only buffered reader over any stream (network streams included) that counts the bytes it
/// has handed out, so decoders know absolute file offsets without seeking. Rents one buffer.
/// </summary>
internal sealed class StreamSource : IDisposable
{
    private const int BufferSize = 64 * 1024;
    private readonly Stream _stream;
    private byte[]? _buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
    private int _start;
    private int _end;

    /// <param name="stream">The input.</param>
    /// <param name="position">File offset of the stream's first byte (a ranged read starts mid-file).</param>
    public StreamSource(Stream stream, long position = 0)
    {
        _stream = stream;
        Position = position;
    }

    /// <summary>Bytes consumed so far (the absolute offset of the next byte).</summary>
    public long Position { get; private set; }

    /// <summary>Fills <paramref name="destination"/> completely; false if the stream ended first (partial data is consumed).</summary>
    public bool TryReadExactly(Span<byte> destination)
    {
        byte[] buffer = _buffer ?? throw new ObjectDisposedException(nameof(StreamSource));
        while (destination.Length > 0)
        {
            if (_start == _end)
            {
                if (destination.Length >= BufferSize)
                {
                    int direct = _stream.Read(destination);
                    if (direct == 0)
                    {
                        return false;
                    }
                    Position += direct;
                    destination = destination[direct..];
                    continue;
                }
                _start = 0;
                _end = _stream.Read(buffer, 0, BufferSize);
                if (_end == 0)
                {
                    return false;
                }
            }
            int n = Math.Min(destination.Length, _end - _start);
            buffer.AsSpan(_start, n).CopyTo(destination);
            _start += n;
            Position += n;
            destination = destination[n..];
        }
        return true;
    }

    /// <summary>Reads one byte; -1 at end of stream.</summary>
    public int ReadByte()
    {
        Span<byte> one = stackalloc byte[1];
        return TryReadExactly(one) ? one[0] : -1;
    }

    public void Dispose()
    {
        if (_buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = null;
        }
    }
}
