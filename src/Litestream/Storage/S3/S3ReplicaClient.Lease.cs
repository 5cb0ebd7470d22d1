using System.Net;
using Amazon.S3;
using Amazon.S3.Model;

namespace Litestream.Storage.S3;

/// <summary>
/// The lease object on S3 (as upstream's <c>s3.Leaser</c>): taken with <c>If-None-Match: *</c> (or <c>If-Match</c> on the
/// expired holder's ETag), renewed with <c>If-Match</c>; a 412 is someone else's write. Conditional writes are on AWS
/// S3 since 2024 and on most compatibles; a server that ignores the headers would let two holders in, so the tests
/// use a fault proxy that implements them (s3rver does not). Expiry is judged from the object's Last-Modified (S3's
/// clock); the SDK exposes no response Date, so "now" is this machine's clock.
/// </summary>
public partial class S3ReplicaClient
{
    private string LeaseKey => _gsLayout && Path.Length == 0 ? LeaseObject.Name : $"{Path}/{LeaseObject.Name}";

    /// <inheritdoc />
    public string? LeaseUnsupportedReason => null;

    /// <inheritdoc />
    public async ValueTask<LeaseObject?> ReadLeaseAsync(CancellationToken cancellationToken)
    {
        AmazonS3Client s3 = await GetClientAsync(cancellationToken).ConfigureAwait(false);
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                return await ReadLeaseOnceAsync(s3, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (attempt < 3 && (e is ArgumentOutOfRangeException { ParamName: "hex" } || e.InnerException is HttpIOException))
            {
                // A read that met an overwrite of the object (s3rver's overwrites are not atomic; a dropped connection
                // does the same): the SDK cannot parse the answer or the body ends short. The lease is tiny, read it again.
                await Task.Delay(TimeSpan.FromMilliseconds(100 * attempt), cancellationToken).ConfigureAwait(false);
            }
            catch (ArgumentOutOfRangeException e) when (e.ParamName == "hex")
            {
                throw Failure("get lease", LeaseKey, new IOException("the server's answer could not be parsed three times", e));
            }
        }
    }

    private async ValueTask<LeaseObject?> ReadLeaseOnceAsync(AmazonS3Client s3, CancellationToken cancellationToken)
    {
        try
        {
            using GetObjectResponse response = await UntilCancelledAsync(s3.GetObjectAsync(new GetObjectRequest { BucketName = Bucket, Key = LeaseKey }, cancellationToken), cancellationToken).ConfigureAwait(false);
            byte[] buffer = new byte[LeaseObject.MaxSize];
            int length = await response.ResponseStream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            DateTimeOffset modified = response.LastModified is { } lastModified ? new DateTimeOffset(DateTime.SpecifyKind(lastModified.ToUniversalTime(), DateTimeKind.Utc)) : DateTimeOffset.UtcNow;
            return new LeaseObject(buffer.AsMemory(0, length), response.ETag ?? "", modified, ServerNow: null);
        }
        catch (AmazonS3Exception e) when (e.ErrorCode == "NoSuchKey" || (e.StatusCode == HttpStatusCode.NotFound && e.ErrorCode != "NoSuchBucket"))
        {
            return null;
        }
        catch (Exception e) when (IsStorageError(e))
        {
            throw Failure("get lease", LeaseKey, e);
        }
    }

    /// <inheritdoc />
    public async ValueTask<string> WriteLeaseAsync(ReadOnlyMemory<byte> content, string? ifMatch, CancellationToken cancellationToken)
    {
        AmazonS3Client s3 = await GetClientAsync(cancellationToken).ConfigureAwait(false);
        var request = new PutObjectRequest
        {
            BucketName = Bucket,
            Key = LeaseKey,
            InputStream = new MemoryStream(content.ToArray(), writable: false),
            ContentType = "application/json",
            UseChunkEncoding = false,
            DisablePayloadSigning = !_signPayload,
        };
        if (ifMatch is null)
        {
            request.IfNoneMatch = "*";
        }
        else
        {
            request.IfMatch = ifMatch;
        }
        try
        {
            PutObjectResponse response = await s3.PutObjectAsync(request, cancellationToken).ConfigureAwait(false);
            return response.ETag ?? throw new IOException($"s3: put lease {Location(LeaseKey)}: the server returned no ETag, so the lease cannot be renewed");
        }
        catch (AmazonS3Exception e) when (e.StatusCode is HttpStatusCode.PreconditionFailed or HttpStatusCode.Conflict || e.ErrorCode is "PreconditionFailed" or "ConditionalRequestConflict")
        {
            throw new LeaseConflictException(Location(LeaseKey), e);
        }
        catch (Exception e) when (IsStorageError(e))
        {
            throw Failure("put lease", LeaseKey, e);
        }
    }
}
