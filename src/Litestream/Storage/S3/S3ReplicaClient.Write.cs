using Amazon.S3;
using Amazon.S3.Model;
using Litestream.Ltx;

namespace Litestream.Storage.S3;

public partial class S3ReplicaClient
{
    /// <summary>
    /// Uploads an LTX file: one PutObject when it is smaller than the part size, otherwise a multipart
    /// upload with up to <c>concurrency</c> parts in flight (<see cref="S3UploadParts"/>: a file's parts are read
    /// in place, any other stream's are buffered so retries can resend them).
    /// The object becomes visible only when complete, so readers never see a partial file.
    /// </summary>
    public async ValueTask<LtxFileInfo> WriteLtxFileAsync(int level, Txid minTxid, Txid maxTxid, Stream data, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(data);
        AmazonS3Client s3 = await GetClientAsync(cancellationToken).ConfigureAwait(false);
        string key = LtxKey(level, minTxid, maxTxid);

        var source = new S3UploadParts(data, _partSize);
        S3UploadPart first = await source.NextAsync(cancellationToken).ConfigureAwait(false);
        DateTimeOffset createdAt;
        try
        {
            createdAt = S3UploadParts.CreatedAt(first);
        }
        catch
        {
            first.Release();
            throw;
        }
        string timestamp = ReplicaTimestamp.Format(createdAt);
        var op = ReplicaOperation.Start(Type, ReplicaOperation.Put);
        long size;
        try
        {
            size = first.Length < _partSize
                ? await PutAsync(s3, key, first, timestamp, cancellationToken).ConfigureAwait(false)
                : await UploadMultipartAsync(s3, key, first, source, timestamp, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (op.Failed(e, ErrorCode(e.InnerException ?? e)))
        {
            throw;
        }
        op.Succeeded(size);
        return new LtxFileInfo(level, minTxid, maxTxid, size, createdAt);
    }

    /// <summary>
    /// CopyObject inside the bucket, its timestamp metadata copied with it: one request, no byte through this
    /// process. Null (download and upload instead) for SSE-C, whose copy needs the key sent twice, and past one
    /// CopyObject's 5 GiB limit.
    /// </summary>
    public async ValueTask<LtxFileInfo?> CopyLtxFileAsync(LtxFileInfo source, int level, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (_sseCustomerKey is not null || source.Size > MaxCopyObjectSize)
        {
            return null;
        }
        AmazonS3Client s3 = await GetClientAsync(cancellationToken).ConfigureAwait(false);
        string key = LtxKey(level, source.MinTxid, source.MaxTxid);
        var request = new CopyObjectRequest
        {
            SourceBucket = Bucket,
            SourceKey = LtxKey(source.Level, source.MinTxid, source.MaxTxid),
            DestinationBucket = Bucket,
            DestinationKey = key,
            MetadataDirective = S3MetadataDirective.COPY,
            StorageClass = _storageClass,
        };
        if (_sseKmsKeyId is not null)
        {
            request.ServerSideEncryptionMethod = ServerSideEncryptionMethod.AWSKMS;
            request.ServerSideEncryptionKeyManagementServiceKeyId = _sseKmsKeyId;
        }
        var op = ReplicaOperation.Start(Type, ReplicaOperation.Put);
        try
        {
            await UntilCancelledAsync(s3.CopyObjectAsync(request, cancellationToken), cancellationToken).ConfigureAwait(false);
            op.Succeeded();
        }
        catch (Exception e) when (IsStorageError(e) && !op.Failed(e, ErrorCode(e)))
        {
            throw Failure("copy object", key, e);
        }
        return source with { Level = level };
    }

    /// <summary>Single PutObject; releases the part.</summary>
    private async ValueTask<long> PutAsync(AmazonS3Client s3, string key, S3UploadPart part, string timestamp, CancellationToken cancellationToken)
    {
        try
        {
            var request = new PutObjectRequest
            {
                BucketName = Bucket,
                Key = key,
                InputStream = part.Body,
                // s3rver and some compatibles store aws-chunked framing as object data (INFRA.md "S3").
                UseChunkEncoding = false,
                StorageClass = _storageClass,
            };
            if (!_signPayload)
            {
                request.DisablePayloadSigning = true;
            }
            request.Metadata[TimestampMetadataKey] = timestamp;
            if (_sseCustomerKey is not null)
            {
                request.ServerSideEncryptionCustomerMethod = ServerSideEncryptionCustomerMethod.AES256;
                request.ServerSideEncryptionCustomerProvidedKey = _sseCustomerKey;
            }
            else if (_sseKmsKeyId is not null)
            {
                request.ServerSideEncryptionMethod = ServerSideEncryptionMethod.AWSKMS;
                request.ServerSideEncryptionKeyManagementServiceKeyId = _sseKmsKeyId;
            }
            await s3.PutObjectAsync(request, cancellationToken).ConfigureAwait(false);
            return part.Length;
        }
        catch (Exception e) when (IsStorageError(e))
        {
            throw Failure("put object", key, e);
        }
        finally
        {
            part.Release();
        }
    }

    /// <summary>
    /// Multipart upload starting with the already-cut first part. A semaphore taken before each part is
    /// cut bounds the parts in flight (and a buffered source's memory) to <c>concurrency</c>; the first
    /// failure cancels the other parts and aborts the upload.
    /// </summary>
    private async ValueTask<long> UploadMultipartAsync(AmazonS3Client s3, string key, S3UploadPart first, S3UploadParts source, string timestamp, CancellationToken cancellationToken)
    {
        string uploadId;
        try
        {
            var initiate = new InitiateMultipartUploadRequest { BucketName = Bucket, Key = key, StorageClass = _storageClass };
            initiate.Metadata[TimestampMetadataKey] = timestamp;
            if (_sseCustomerKey is not null)
            {
                initiate.ServerSideEncryptionCustomerMethod = ServerSideEncryptionCustomerMethod.AES256;
                initiate.ServerSideEncryptionCustomerProvidedKey = _sseCustomerKey;
            }
            else if (_sseKmsKeyId is not null)
            {
                initiate.ServerSideEncryptionMethod = ServerSideEncryptionMethod.AWSKMS;
                initiate.ServerSideEncryptionKeyManagementServiceKeyId = _sseKmsKeyId;
            }
            uploadId = (await UntilCancelledAsync(s3.InitiateMultipartUploadAsync(initiate, cancellationToken), cancellationToken).ConfigureAwait(false)).UploadId;
        }
        catch (Exception e) when (IsStorageError(e))
        {
            first.Release();
            throw Failure("create multipart upload", key, e);
        }

        using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var slots = new SemaphoreSlim(_concurrency, _concurrency);
        var parts = new List<Task<PartETag>>();
        long total = 0;
        try
        {
            S3UploadPart part = first;
            await slots.WaitAsync(failed.Token).ConfigureAwait(false);
            while (true)
            {
                total += part.Length;
                parts.Add(UploadPartAsync(s3, key, uploadId, parts.Count + 1, part, slots, failed));
                if (part.Length < _partSize)
                {
                    break; // a short part is the last one
                }
                await slots.WaitAsync(failed.Token).ConfigureAwait(false);
                try
                {
                    part = await source.NextAsync(failed.Token).ConfigureAwait(false);
                }
                catch
                {
                    slots.Release();
                    throw;
                }
                if (part.Length == 0)
                {
                    part.Release();
                    slots.Release();
                    break;
                }
            }
            PartETag[] etags = await Task.WhenAll(parts).ConfigureAwait(false);
            var complete = new CompleteMultipartUploadRequest { BucketName = Bucket, Key = key, UploadId = uploadId, PartETags = [.. etags] };
            try
            {
                await UntilCancelledAsync(s3.CompleteMultipartUploadAsync(complete, cancellationToken), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (IsStorageError(e))
            {
                throw Failure("complete multipart upload", key, e);
            }
            return total;
        }
        catch
        {
            await failed.CancelAsync().ConfigureAwait(false);
            try
            {
                await Task.WhenAll(parts).ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Each part's failure is already the reason this upload is abandoned.
            }
            await AbortAsync(s3, key, uploadId).ConfigureAwait(false);
            // The first part failure is the cause; surface it rather than the cancellations it triggered.
            foreach (Task<PartETag> part in parts)
            {
                if (part.IsFaulted && part.Exception!.InnerException is IOException cause)
                {
                    throw cause;
                }
            }
            throw;
        }
    }

    private async Task<PartETag> UploadPartAsync(AmazonS3Client s3, string key, string uploadId, int partNumber, S3UploadPart part, SemaphoreSlim slots, CancellationTokenSource failed)
    {
        try
        {
            var request = new UploadPartRequest
            {
                BucketName = Bucket,
                Key = key,
                UploadId = uploadId,
                PartNumber = partNumber,
                PartSize = part.Length,
                InputStream = part.Body,
                UseChunkEncoding = false,
            };
            if (!_signPayload)
            {
                request.DisablePayloadSigning = true;
            }
            if (_sseCustomerKey is not null)
            {
                request.ServerSideEncryptionCustomerMethod = ServerSideEncryptionCustomerMethod.AES256;
                request.ServerSideEncryptionCustomerProvidedKey = _sseCustomerKey;
            }
            UploadPartResponse response = await s3.UploadPartAsync(request, failed.Token).ConfigureAwait(false);
            return new PartETag(partNumber, response.ETag);
        }
        catch (Exception e) when (IsStorageError(e))
        {
            await failed.CancelAsync().ConfigureAwait(false);
            throw Failure($"upload part {partNumber} of", key, e);
        }
        finally
        {
            part.Release();
            slots.Release();
        }
    }

    /// <summary>Best effort: an abandoned upload only costs storage until the bucket's lifecycle rule removes it.</summary>
    private async ValueTask AbortAsync(AmazonS3Client s3, string key, string uploadId)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await s3.AbortMultipartUploadAsync(new AbortMultipartUploadRequest { BucketName = Bucket, Key = key, UploadId = uploadId }, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (IsStorageError(e) || e is OperationCanceledException)
        {
            // Nothing more to do here; the caller reports the upload failure itself.
        }
    }
}
