using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Litestream.Storage.Gs;

/// <summary>
/// The lease object, written with GCS's generation preconditions: <c>ifGenerationMatch=0</c> to take a free lease,
/// <c>ifGenerationMatch=&lt;generation&gt;</c> to renew or take an expired one; a 412 is someone else's write. The
/// object's generation is its version tag. A read gets the resource (generation, update time), then the bytes of
/// that generation, so the two always belong together. Expiry is judged on GCS's clock: the object's update time
/// and the response's Date.
/// </summary>
public sealed partial class GsReplicaClient
{
    private string LeaseName => (Path.Length == 0 ? "" : Path + "/") + LeaseObject.Name;

    /// <inheritdoc />
    public string? LeaseUnsupportedReason => null;

    /// <inheritdoc />
    public async ValueTask<LeaseObject?> ReadLeaseAsync(CancellationToken cancellationToken)
    {
        for (int attempt = 1; ; attempt++)
        {
            GsObject resource;
            DateTimeOffset? serverNow;
            using (HttpResponseMessage response = await SendAsync("get lease", LeaseName, ReplicaOperation.Get,
                () => new HttpRequestMessage(HttpMethod.Get, ObjectUri(LeaseName)), cancellationToken).ConfigureAwait(false))
            {
                if (response.StatusCode == HttpStatusCode.NotFound && !await IsMissingBucketAsync(response, cancellationToken).ConfigureAwait(false))
                {
                    return null;
                }
                serverNow = response.Headers.Date;
                resource = await ReadJsonAsync("get lease", LeaseName, response, GsJsonContext.Default.GsObject, cancellationToken).ConfigureAwait(false);
            }
            string generation = resource.Generation ?? throw new ReplicaStorageException($"gs: get lease {Location(LeaseName)}: the object has no generation", null);
            using HttpResponseMessage media = await SendAsync("get lease", LeaseName, ReplicaOperation.Get,
                () => new HttpRequestMessage(HttpMethod.Get, $"{ObjectUri(LeaseName)}?alt=media&ifGenerationMatch={generation}"), cancellationToken).ConfigureAwait(false);
            if (media.StatusCode is HttpStatusCode.PreconditionFailed or HttpStatusCode.NotFound && attempt < 3)
            {
                // Rewritten or deleted between the two reads: read again.
                continue;
            }
            if (!media.IsSuccessStatusCode)
            {
                throw await FailureAsync("get lease", LeaseName, media, cancellationToken).ConfigureAwait(false);
            }
            byte[] buffer = new byte[LeaseObject.MaxSize];
            Stream body = await media.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            int length = await body.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            DateTimeOffset modified = ReplicaTimestamp.TryParse(resource.Updated, out DateTimeOffset updated) ? updated : DateTimeOffset.UtcNow;
            return new LeaseObject(buffer.AsMemory(0, length), generation, modified, serverNow);
        }
    }

    /// <inheritdoc />
    public async ValueTask<string> WriteLeaseAsync(ReadOnlyMemory<byte> content, string? ifMatch, CancellationToken cancellationToken)
    {
        if (ifMatch is not null && !long.TryParse(ifMatch, NumberStyles.None, CultureInfo.InvariantCulture, out _))
        {
            // Not a generation this backend gave out: no object can match it.
            throw new LeaseConflictException(Location(LeaseName));
        }
        byte[] metadata = JsonSerializer.SerializeToUtf8Bytes(new GsUploadMetadata { Name = LeaseName, ContentType = "application/json" }, GsJsonContext.Default.GsUploadMetadata);
        using HttpResponseMessage response = await SendAsync("put lease", LeaseName, ReplicaOperation.Put,
            () => Upload(LeaseName, metadata, new ReadOnlyMemoryContent(content) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } }, ifMatch ?? "0"),
            cancellationToken).ConfigureAwait(false);
        if (response.StatusCode is HttpStatusCode.PreconditionFailed or HttpStatusCode.Conflict)
        {
            throw new LeaseConflictException(Location(LeaseName));
        }
        GsObject written = await ReadJsonAsync("put lease", LeaseName, response, GsJsonContext.Default.GsObject, cancellationToken).ConfigureAwait(false);
        return written.Generation ?? throw new ReplicaStorageException($"gs: put lease {Location(LeaseName)}: the answer has no generation", null);
    }
}
