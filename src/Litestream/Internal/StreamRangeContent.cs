using System.Buffers;
using System.Net;

namespace Litestream.Internal;

/// <summary>
/// An upload body (a WebDAV PUT, a part of a GCS multipart upload): a range of a seekable stream, with a
/// Content-Length (servers such as nginx behind FastCGI or lighttpd mishandle chunked uploads; upstream stages to
/// a file for the same reason). It can be sent again (an authentication challenge, a retry) because every send
/// seeks back to the range's start. The stream stays the caller's: disposing the content leaves it open.
/// </summary>
internal sealed class StreamRangeContent : HttpContent
{
    private const int BufferSize = 64 * 1024;
    private readonly Stream _source;
    private readonly long _start;
    private readonly long _length;

    public StreamRangeContent(Stream source, long start, long length)
    {
        (_source, _start, _length) = (source, start, length);
        Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/octet-stream");
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        _source.Position = _start;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            for (long remaining = _length; remaining > 0;)
            {
                int n = await _source.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, remaining)), cancellationToken).ConfigureAwait(false);
                if (n == 0)
                {
                    throw new IOException($"the upload source ended {remaining} bytes short of its {_length}");
                }
                await stream.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                remaining -= n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    protected override bool TryComputeLength(out long length)
    {
        length = _length;
        return true;
    }
}
