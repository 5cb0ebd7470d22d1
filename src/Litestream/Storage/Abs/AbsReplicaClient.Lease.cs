using System.Net;
using Azure;
using Azure.Storage.Blobs.Models;

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
        try
        {
            Response<BlobDownloadResult> response = await _container.GetBlobClient(LeaseName)
                .DownloadContentAsync(new BlobDownloadOptions { Range = new HttpRange(0, LeaseObject.MaxSize) }, cancellationToken).ConfigureAwait(false);
            BlobDownloadDetails details = response.Value.Details;
            DateTimeOffset? serverNow = response.GetRawResponse().Headers.Date;
            return new LeaseObject(response.Value.Content.ToMemory(), details.ETag.ToString(), details.LastModified, serverNow);
        }
        catch (RequestFailedException e) when (e.ErrorCode == BlobErrorCode.BlobNotFound)
        {
            return null;
        }
        catch (Exception e) when (IsStorageError(e, cancellationToken))
        {
            throw Failure("get lease", LeaseName, e);
        }
    }

    /// <inheritdoc />
    public async ValueTask<string> WriteLeaseAsync(ReadOnlyMemory<byte> content, string? ifMatch, CancellationToken cancellationToken)
    {
        var options = new BlobUploadOptions
        {
            HttpHeaders = new BlobHttpHeaders { ContentType = "application/json" },
            Conditions = ifMatch is null ? new BlobRequestConditions { IfNoneMatch = ETag.All } : new BlobRequestConditions { IfMatch = new ETag(ifMatch) },
        };
        try
        {
            Response<BlobContentInfo> response = await _container.GetBlobClient(LeaseName).UploadAsync(BinaryData.FromBytes(content), options, cancellationToken).ConfigureAwait(false);
            return response.Value.ETag.ToString();
        }
        catch (RequestFailedException e) when (e.Status is (int)HttpStatusCode.PreconditionFailed or (int)HttpStatusCode.Conflict)
        {
            throw new LeaseConflictException(Location(LeaseName), e);
        }
        catch (Exception e) when (IsStorageError(e, cancellationToken))
        {
            throw Failure("put lease", LeaseName, e);
        }
    }
}
