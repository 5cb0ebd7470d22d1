using System.Text;

namespace Litestream.Storage.Nats;

/// <summary>Reads the NATS protocol's frames from a stream: control lines ending in CRLF, and payload blocks followed by CRLF.</summary>
internal sealed class NatsFrameReader(Stream stream)
{
    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;

    /// <summary>The next control line without its CRLF.</summary>
    /// <exception cref="NatsException">The line is longer than <paramref name="maxLength"/>.</exception>
    /// <exception cref="IOException">The connection closed.</exception>
    public async ValueTask<string> ReadLineAsync(int maxLength, CancellationToken cancellationToken)
    {
        var line = new MemoryStream();
        while (true)
        {
            if (_start == _end)
            {
                await FillAsync(cancellationToken).ConfigureAwait(false);
            }
            int newline = _buffer.AsSpan(_start, _end - _start).IndexOf((byte)'\n');
            int take = newline < 0 ? _end - _start : newline + 1;
            line.Write(_buffer, _start, take);
            _start += take;
            if (line.Length > maxLength)
            {
                throw new NatsException($"a protocol line longer than {maxLength} bytes");
            }
            if (newline >= 0)
            {
                ReadOnlySpan<byte> text = line.GetBuffer().AsSpan(0, (int)line.Length).TrimEnd("\r\n"u8);
                return Encoding.UTF8.GetString(text);
            }
        }
    }

    /// <summary>A payload of <paramref name="count"/> bytes and the CRLF after it.</summary>
    public async ValueTask<byte[]> ReadBlockAsync(int count, CancellationToken cancellationToken)
    {
        byte[] block = new byte[count];
        int filled = 0;
        while (filled < count + 2)
        {
            if (_start == _end)
            {
                await FillAsync(cancellationToken).ConfigureAwait(false);
            }
            int take = Math.Min(_end - _start, count + 2 - filled);
            // The trailing CRLF is consumed, not kept.
            int payload = Math.Clamp(count - filled, 0, take);
            _buffer.AsSpan(_start, payload).CopyTo(block.AsSpan(filled));
            filled += take;
            _start += take;
        }
        return block;
    }

    private async ValueTask FillAsync(CancellationToken cancellationToken)
    {
        _start = 0;
        _end = await stream.ReadAsync(_buffer, cancellationToken).ConfigureAwait(false);
        if (_end == 0)
        {
            throw new IOException("the server closed the connection");
        }
    }
}
