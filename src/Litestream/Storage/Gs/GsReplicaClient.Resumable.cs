using System.Globalization;
using System.Net.Http.Headers;
using Litestream.Internal;

namespace Litestream.Storage.Gs;

public sealed partial class GsReplicaClient
{
    /// <summary>
    /// Bytes of one chunk of a resumable upload, and the size above which an upload is resumable rather than one
    /// multipart request: 16 MiB, the Go client's default <c>ChunkSize</c> (it too sends what fits in one chunk as a
    /// multipart upload). A multiple of 256 KiB, as GCS requires of every chunk but the last.
    /// </summary>
    public const int DefaultResumableChunkSize = 16 * 1024 * 1024;

    /// <summary>GCS's chunk granularity: every chunk but the last is a multiple of it.</summary>
    public const int ResumableChunkQuantum = 256 * 1024;

    /// <summary>The chunk size in force; lowered only by tests that prove chunking and resumption cheaply.</summary>
    internal int ResumableChunkSize
    {
        get;
        set => field = value > 0 && value % ResumableChunkQuantum == 0 ? value : throw new ArgumentOutOfRangeException(nameof(value), "a positive multiple of 256 KiB");
    } = DefaultResumableChunkSize;

    /// <summary>
    /// A resumable upload (GCS JSON API <c>uploadType=resumable</c>): a POST opens a session with the object's JSON
    /// resource, then the bytes go up in chunks of <see cref="ResumableChunkSize"/> with <c>Content-Range</c>; GCS
    /// answers 308 with the <c>Range</c> it has persisted until the last chunk, which answers 200 with the object. A
    /// chunk that fails (cut off, 408/429/5xx) is not simply sent again: the session is asked what it holds
    /// (<c>Content-Range: bytes */N</c>) and the upload goes on from there, so no byte is lost or sent twice. Up to
    /// MaxRetries failures in a row without progress, then the error. The object appears only when complete.
    /// </summary>
    private async ValueTask UploadResumableAsync(string name, byte[] metadata, SizedLtxUpload upload, CancellationToken cancellationToken)
    {
        string session = await StartResumableSessionAsync(name, metadata, upload.Length, cancellationToken).ConfigureAwait(false);
        string total = upload.Length.ToString(CultureInfo.InvariantCulture);
        long persisted = 0;
        int failures = 0;
        while (true)
        {
            long length = Math.Min(ResumableChunkSize, upload.Length - persisted);
            long start = persisted;
            (bool done, long? next, Exception? error) = await SendChunkAsync("put", name, session, () =>
            {
                var request = new HttpRequestMessage(HttpMethod.Put, session) { Content = upload.Content(start, length) };
                request.Content.Headers.ContentRange = new ContentRangeHeaderValue(start, start + length - 1, upload.Length);
                return request;
            }, length, cancellationToken).ConfigureAwait(false);
            if (error is not null)
            {
                if (++failures > _transport.MaxRetries)
                {
                    throw error;
                }
                await Task.Delay(HttpStorageRetry.Backoff(failures - 1), cancellationToken).ConfigureAwait(false);
                // What did the session keep of the chunk that failed? Go on from there (bytes */N).
                (done, next, error) = await SendChunkAsync("put", name, session, () =>
                {
                    var request = new HttpRequestMessage(HttpMethod.Put, session) { Content = new ByteArrayContent([]) };
                    request.Content.Headers.TryAddWithoutValidation("Content-Range", "bytes */" + total);
                    return request;
                }, 0, cancellationToken).ConfigureAwait(false);
                if (error is not null)
                {
                    continue;
                }
            }
            if (done)
            {
                return;
            }
            long kept = next ?? 0;
            if (kept > persisted)
            {
                failures = 0;
            }
            else if (error is null && ++failures > _transport.MaxRetries)
            {
                throw new ReplicaStorageException($"gs: put {Location(name)}: the upload session persisted nothing past byte {persisted.ToString(CultureInfo.InvariantCulture)} of {total}", "try again (the upload starts anew)");
            }
            if (kept >= upload.Length)
            {
                throw new ReplicaStorageException($"gs: put {Location(name)}: the upload session holds all {total} bytes but did not finish the object", "try again (the upload starts anew)");
            }
            persisted = kept;
        }
    }

    /// <summary>Opens the session: POST with the JSON resource; its <c>Location</c> is where the chunks go.</summary>
    private async ValueTask<string> StartResumableSessionAsync(string name, byte[] metadata, long length, CancellationToken cancellationToken)
    {
        string uri = $"{Endpoint}/upload/storage/v1/b/{Uri.EscapeDataString(Bucket)}/o?uploadType=resumable&name={Uri.EscapeDataString(name)}";
        using HttpResponseMessage response = await SendAsync("put", name, ReplicaOperation.Put, () =>
        {
            var json = new ByteArrayContent(metadata);
            json.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "UTF-8" };
            var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = json };
            request.Headers.TryAddWithoutValidation("X-Upload-Content-Type", "application/octet-stream");
            request.Headers.TryAddWithoutValidation("X-Upload-Content-Length", length.ToString(CultureInfo.InvariantCulture));
            return request;
        }, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw await FailureAsync("put", name, response, cancellationToken).ConfigureAwait(false);
        }
        if (response.Headers.Location is not { } location || !location.IsAbsoluteUri || location.Scheme is not ("http" or "https"))
        {
            throw new ReplicaStorageException($"gs: put {Location(name)}: {Endpoint} opened no resumable upload session (no Location)", "check that the endpoint is Google Cloud Storage (or STORAGE_EMULATOR_HOST a GCS emulator)");
        }
        return location.AbsoluteUri;
    }

    /// <summary>
    /// One request to the session, sent once: done (200/201), or the next offset from a 308's <c>Range: bytes=0-N</c>
    /// (0 without one), or the failure to resume after (cut off, 408/429/5xx). Any other status is thrown.
    /// </summary>
    private async ValueTask<(bool Done, long? Next, Exception? Error)> SendChunkAsync(string operation, string name, string session,
        Func<HttpRequestMessage> make, long bytes, CancellationToken cancellationToken)
    {
        HttpResponseMessage response;
        try
        {
            response = await _transport.SendAsync(ReplicaOperation.Put, make, e => Failure(operation, name, e),
                (status, attempt) => HttpStorageTransport.StatusAction.Return, cancellationToken, retryTransport: false, bytes: bytes,
                // The session URI is its own authorization (GCS's); the token goes only to the endpoint's own host.
                authorize: SameAuthority(session, Endpoint)
                    ? async (request, token) => request.Headers.Authorization = await _credentials.GetAuthorizationAsync(_transport.Http, token).ConfigureAwait(false)
                    : null)
                .ConfigureAwait(false);
        }
        catch (ReplicaStorageException e) when (!cancellationToken.IsCancellationRequested)
        {
            return (false, null, e);
        }
        using (response)
        {
            int status = (int)response.StatusCode;
            if (status is 200 or 201)
            {
                return (true, null, null);
            }
            if (status == 308)
            {
                return (false, PersistedEnd(response), null);
            }
            ReplicaStorageException failure = await FailureAsync(operation, name, response, cancellationToken).ConfigureAwait(false);
            if (status is 401 or 408 or 429 || status >= 500)
            {
                // 401: the token expired mid-upload; the next request gets a fresh one.
                if (status == 401)
                {
                    _credentials.Invalidate();
                }
                return (false, null, failure);
            }
            if (status is 404 or 410)
            {
                throw new ReplicaStorageException(failure.Message + " (the resumable upload session expired or was cancelled)", "try again (the upload starts anew)");
            }
            throw failure;
        }
    }

    private static bool SameAuthority(string a, string b)
        => Uri.TryCreate(a, UriKind.Absolute, out Uri? x) && Uri.TryCreate(b, UriKind.Absolute, out Uri? y)
            && string.Equals(x.Scheme, y.Scheme, StringComparison.OrdinalIgnoreCase) && string.Equals(x.Authority, y.Authority, StringComparison.OrdinalIgnoreCase);

    /// <summary>The offset after the last byte a 308 says is persisted (<c>Range: bytes=0-N</c> → N+1; none → 0).</summary>
    private static long PersistedEnd(HttpResponseMessage response)
    {
        if (response.Headers.TryGetValues("Range", out IEnumerable<string>? values)
            && values.FirstOrDefault() is { } range && range.StartsWith("bytes=0-", StringComparison.Ordinal)
            && long.TryParse(range.AsSpan("bytes=0-".Length), NumberStyles.None, CultureInfo.InvariantCulture, out long last))
        {
            return last + 1;
        }
        return 0;
    }
}
