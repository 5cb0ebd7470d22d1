using System.Net;

namespace Litestream.Storage.Abs;

/// <summary>
/// The lease object as a block blob, written with Azure's conditional headers (<c>If-None-Match: *</c> to take a free
/// lease, <c>If-Match: &lt;etag&gt;</c> to renew or take an expired one; 412/409 is someone else's write). Not Azure's
/// own blob leases: those last at most 60 s or forever, and carry no holder or generation. Expiry is judged on Azure's
/// clock: the blob's Last-Modified and the response's Date.
/// </summary>
public sealed partial class AbsReplicaClient
{
    private string LeaseName => (Path.Length == 0 ? "" : Path + "/") + LeaseObject.Name;

    /// <inheritdoc />
    public string? LeaseUnsupportedReason => null;

    /// <inheritdoc />
    public async ValueTask<LeaseObject?> ReadLeaseAsync(CancellationToken cancellationToken)
    {
        using HttpResponseMessage response = await SendAsync("get lease", LeaseName, ReplicaOperation.Get, () =>
        {
            var request = new HttpRequestMessage(HttpMethod.Get, Url(LeaseName));
            Internal.HttpRangedRead.SetRange(request, 0, LeaseObject.MaxSize);
            return request;
        }, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound && ErrorCode(response) == "BlobNotFound")
        {
            return null;
        }
        if (response.StatusCode is not (HttpStatusCode.OK or HttpStatusCode.PartialContent))
        {
            throw await FailureAsync("get lease", LeaseName, response, cancellationToken).ConfigureAwait(false);
        }
        byte[] buffer = new byte[LeaseObject.MaxSize];
        int length;
        try
        {
            Stream body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            length = await body.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (Internal.HttpStorageRetry.IsTransportError(e, cancellationToken))
        {
            throw Failure("get lease", LeaseName, e);
        }
        string etag = response.Headers.ETag?.ToString()
            ?? throw new ReplicaStorageException(Redaction.Apply($"abs: get lease {Location(LeaseName)}: the answer has no ETag"), null);
        return new LeaseObject(buffer.AsMemory(0, length), etag, response.Content.Headers.LastModified ?? DateTimeOffset.UtcNow, response.Headers.Date);
    }

    /// <inheritdoc />
    public async ValueTask<string> WriteLeaseAsync(ReadOnlyMemory<byte> content, string? ifMatch, CancellationToken cancellationToken)
    {
        using HttpResponseMessage response = await SendAsync("put lease", LeaseName, ReplicaOperation.Put, () =>
        {
            HttpRequestMessage request = PutBlob(LeaseName, new ReadOnlyMemoryContent(content), "application/json");
            request.Headers.TryAddWithoutValidation(ifMatch is null ? "If-None-Match" : "If-Match", ifMatch ?? "*");
            return request;
        }, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode is HttpStatusCode.PreconditionFailed or HttpStatusCode.Conflict)
        {
            throw new LeaseConflictException(Location(LeaseName));
        }
        if (!response.IsSuccessStatusCode)
        {
            throw await FailureAsync("put lease", LeaseName, response, cancellationToken).ConfigureAwait(false);
        }
        return response.Headers.ETag?.ToString()
            ?? throw new ReplicaStorageException(Redaction.Apply($"abs: put lease {Location(LeaseName)}: the answer has no ETag"), null);
    }
}
