using System.Globalization;
using System.Text;

namespace Litestream.Aot.Control;

/// <summary>
/// One request read off the control socket; of its headers, the two a JSON endpoint checks against browsers and the
/// bearer token a TCP client must send.
/// </summary>
internal sealed record ControlRequest(string Method, string Target, byte[] Body, string? ContentType = null, string? Origin = null, string? Authorization = null);

/// <summary>
/// Reads one HTTP/1.1 request (request line, headers, a Content-Length or chunked body) off a control-socket
/// connection, bounded as Go's net/http bounds upstream's server: a head over <see cref="MaxHeadBytes"/> is
/// 431, a body over <see cref="MaxBodyBytes"/> 413, an unknown transfer coding 501, anything malformed 400, each
/// thrown as a <see cref="ControlException"/> for the server to answer. The caller bounds the time.
/// </summary>
internal sealed class ControlRequestReader(Stream stream, ControlRequestReader.Authorizer? authorize = null)
{
    /// <summary>
    /// Checks a request's <c>Authorization</c> header (null when absent) once the head is read: a refused request is a
    /// 401 with <paramref name="refusal"/>, and its body, which may be large (<see cref="MaxForwardBodyBytes"/>), is
    /// never read.
    /// </summary>
    public delegate bool Authorizer(string? authorization, out string refusal);

    /// <summary>Most bytes of the request line and headers together.</summary>
    public const int MaxHeadBytes = 16 * 1024;

    /// <summary>Most bytes of a body: upstream's requests are a path and a URL, a few hundred bytes.</summary>
    public const int MaxBodyBytes = 64 * 1024;

    /// <summary>Most bytes of a <c>POST /forward</c> body: the pages of a forwarded transaction, in base64.</summary>
    public const int MaxForwardBodyBytes = 64 * 1024 * 1024;

    private int _maxBody = MaxBodyBytes;

    // A chunk-size line: hex digits and an extension nobody sends.
    private const int MaxChunkLineBytes = 1024;

    private readonly byte[] _buffer = new byte[MaxHeadBytes];
    private int _start;
    private int _end;

    /// <summary>The request; null when the client closed before sending a byte.</summary>
    /// <exception cref="ControlException">The request is malformed or over a limit (the status says which).</exception>
    /// <exception cref="EndOfStreamException">The client closed in the middle of the request.</exception>
    public async Task<ControlRequest?> ReadAsync(CancellationToken cancellationToken)
    {
        int headLeft = MaxHeadBytes;
        string? requestLine;
        do
        {
            // RFC 9112 §2.2: empty lines before the request line are ignored.
            requestLine = await ReadLineAsync(headLeft, head: true, cancellationToken, eofAllowed: headLeft == MaxHeadBytes).ConfigureAwait(false);
            if (requestLine is null)
            {
                return null;
            }
            headLeft -= requestLine.Length + 2;
        }
        while (requestLine.Length == 0);
        string[] parts = requestLine.Split(' ');
        if (parts.Length != 3 || parts[0].Length == 0 || parts[1].Length == 0 || parts[2] is not ("HTTP/1.1" or "HTTP/1.0"))
        {
            throw Malformed("malformed request line");
        }
        _maxBody = parts[1] == "/forward" ? MaxForwardBodyBytes : MaxBodyBytes;

        long? contentLength = null;
        bool chunked = false;
        string? contentType = null, origin = null, authorization = null;
        while (await ReadLineAsync(headLeft, head: true, cancellationToken).ConfigureAwait(false) is { Length: > 0 } header)
        {
            headLeft -= header.Length + 2;
            int colon = header.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0 || header[0] is ' ' or '\t' || header.AsSpan(0, colon).ContainsAny(' ', '\t'))
            {
                throw Malformed("malformed header");
            }
            string name = header[..colon], value = header[(colon + 1)..].Trim(' ', '\t');
            if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                if (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long length) || (contentLength is { } seen && seen != length))
                {
                    throw Malformed("invalid Content-Length");
                }
                contentLength = length;
            }
            else if (name.Equals("Content-Type", StringComparison.OrdinalIgnoreCase))
            {
                contentType = value;
            }
            else if (name.Equals("Origin", StringComparison.OrdinalIgnoreCase))
            {
                origin = value;
            }
            else if (name.Equals("Authorization", StringComparison.OrdinalIgnoreCase))
            {
                authorization = value;
            }
            else if (name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase))
            {
                chunked = value.Equals("chunked", StringComparison.OrdinalIgnoreCase)
                    ? true
                    : throw new ControlException(501, $"unsupported transfer encoding: {value}");
            }
        }

        if (authorize is not null && !authorize(authorization, out string refusal))
        {
            throw new ControlException(401, refusal);
        }
        // RFC 9112 §6.3: with a transfer coding, Content-Length is ignored.
        byte[] body = chunked ? await ReadChunkedAsync(cancellationToken).ConfigureAwait(false)
            : contentLength > _maxBody ? throw BodyTooLarge()
            : await ReadBytesAsync((int)(contentLength ?? 0), cancellationToken).ConfigureAwait(false);
        return new ControlRequest(parts[0], parts[1], body, contentType, origin, authorization);
    }

    private async Task<byte[]> ReadChunkedAsync(CancellationToken cancellationToken)
    {
        var body = new MemoryStream();
        while (true)
        {
            string line = (await ReadLineAsync(MaxChunkLineBytes, head: false, cancellationToken).ConfigureAwait(false))!;
            string sizeText = line.Split(';', 2)[0].Trim(' ', '\t');
            if (sizeText.Length == 0 || !ulong.TryParse(sizeText, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong size))
            {
                // ulong parses up to 16 hex digits; longer sizes are too large, not malformed.
                throw sizeText.Length > 16 && sizeText.All(char.IsAsciiHexDigit) ? BodyTooLarge() : Malformed("malformed chunked body");
            }
            if (size > (ulong)(_maxBody - body.Length))
            {
                throw BodyTooLarge();
            }
            if (size == 0)
            {
                break;
            }
            body.Write(await ReadBytesAsync((int)size, cancellationToken).ConfigureAwait(false));
            if ((await ReadLineAsync(MaxChunkLineBytes, head: false, cancellationToken).ConfigureAwait(false))!.Length != 0)
            {
                throw Malformed("malformed chunked body: chunk longer than its size");
            }
        }
        // Trailer fields, then the empty line; they count against the head's limit.
        int trailerLeft = MaxHeadBytes;
        while (await ReadLineAsync(trailerLeft, head: true, cancellationToken).ConfigureAwait(false) is { Length: > 0 } trailer)
        {
            trailerLeft -= trailer.Length + 2;
        }
        return body.ToArray();
    }

    /// <summary>
    /// The next line without its CRLF (a bare LF ends one too, as Go reads them). Past <paramref name="maxBytes"/>:
    /// 431 for a <paramref name="head"/> line, else 400. At the end of the stream: null if <paramref name="eofAllowed"/>
    /// and nothing was read, else <see cref="EndOfStreamException"/>.
    /// </summary>
    private async Task<string?> ReadLineAsync(int maxBytes, bool head, CancellationToken cancellationToken, bool eofAllowed = false)
    {
        while (true)
        {
            int newline = _buffer.AsSpan(_start, _end - _start).IndexOf((byte)'\n');
            if (newline >= 0 && newline < maxBytes)
            {
                ReadOnlySpan<byte> line = _buffer.AsSpan(_start, newline);
                _start += newline + 1;
                return Encoding.Latin1.GetString(line.EndsWith("\r"u8) ? line[..^1] : line);
            }
            if (newline >= 0 || _end - _start >= maxBytes)
            {
                throw head ? HeadTooLarge() : Malformed("malformed chunked body: chunk size line too long");
            }
            if (_end == _buffer.Length)
            {
                _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
                (_start, _end) = (0, _end - _start);
            }
            int read = await stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                return eofAllowed && _start == _end ? null : throw new EndOfStreamException("the client closed the connection mid-request");
            }
            _end += read;
        }
    }

    private async Task<byte[]> ReadBytesAsync(int count, CancellationToken cancellationToken)
    {
        byte[] bytes = new byte[count];
        int buffered = Math.Min(count, _end - _start);
        _buffer.AsSpan(_start, buffered).CopyTo(bytes);
        _start += buffered;
        await stream.ReadExactlyAsync(bytes.AsMemory(buffered), cancellationToken).ConfigureAwait(false);
        return bytes;
    }

    private static ControlException Malformed(string message) => new(400, message);

    private static ControlException HeadTooLarge() => new(431, $"request header larger than {MaxHeadBytes / 1024} KiB");

    private ControlException BodyTooLarge() => new(413, $"request body larger than {_maxBody / 1024} KiB");
}
