using System.Net;
using System.Net.Http.Headers;

namespace Litestream.Internal;

/// <summary>A ranged GET over HTTP (WebDAV, GCS): the Range header asked for, and the answer's body cut to exactly that range.</summary>
internal static class HttpRangedRead
{
    /// <summary>Asks for <paramref name="size"/> bytes (0: to the end) from <paramref name="offset"/>; no header for a whole object.</summary>
    public static void SetRange(HttpRequestMessage request, long offset, long size)
    {
        if (offset > 0 || size > 0)
        {
            request.Headers.Range = new RangeHeaderValue(offset, size > 0 ? offset + size - 1 : null);
        }
    }

    /// <summary>The answers <see cref="BodyAsync"/> reads: 200, 206, and 416 (the offset is at or past the end).</summary>
    public static bool IsRangeAnswer(HttpStatusCode status)
        => status is HttpStatusCode.OK or HttpStatusCode.PartialContent or HttpStatusCode.RequestedRangeNotSatisfiable;

    /// <summary>
    /// Exactly the range asked for from an answer <see cref="IsRangeAnswer"/> accepts: nothing past the end (as upstream
    /// answers), the start skipped when the server ignored the range, the length bounded. The stream owns the response.
    /// </summary>
    public static async Task<Stream> BodyAsync(HttpResponseMessage response, long offset, long size, CancellationToken cancellationToken)
    {
        if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
        {
            response.Dispose();
            return Stream.Null;
        }
        Stream body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.OK && offset > 0)
        {
            await StreamSkip.SkipAsync(body, offset, cancellationToken).ConfigureAwait(false);
        }
        return size > 0 ? new BoundedStream(body, size) : body;
    }
}
