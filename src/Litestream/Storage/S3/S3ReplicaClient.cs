using System.Globalization;
using System.Net;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using Amazon;
using Amazon.Runtime;
using Amazon.Runtime.Credentials;
using Amazon.S3;
using Amazon.S3.Model;
using Litestream.Internal;
using Litestream.Ltx;

namespace Litestream.Storage.S3;

/// <summary>
/// A replica in an S3 bucket or an S3-compatible store (upstream <c>s3.ReplicaClient</c>, REPLICA-LAYOUT.md
/// §2 and §7). Objects are keyed <c>&lt;path&gt;/&lt;level as %04x&gt;/&lt;min&gt;-&lt;max&gt;.ltx</c> — the S3 scheme,
/// not the <c>ltx/&lt;level&gt;</c> one of the other backends — and carry the LTX header timestamp as user
/// metadata <c>litestream-timestamp</c> (RFC 3339, UTC). Credentials never appear in messages, logs or
/// <see cref="ToString"/>.
/// </summary>
[ReplicaBackend("s3")]
public partial class S3ReplicaClient : IReplicaClient
{
    /// <summary>Keys per LIST page and per DeleteObjects batch (the S3 maximum).</summary>
    public const int MaxKeys = 1000;
    /// <summary>Region used with a custom endpoint when none is configured.</summary>
    public const string DefaultRegion = "us-east-1";
    /// <summary>Default multipart part size (upstream <c>part-size</c> default, also the S3 minimum).</summary>
    public const long DefaultPartSize = 5L * 1024 * 1024;
    /// <summary>Smallest part S3 accepts for any part but the last.</summary>
    public const long MinPartSize = 5L * 1024 * 1024;
    /// <summary>Largest part this client buffers (S3 allows 5 GiB; a part lives in memory while it uploads).</summary>
    public const long MaxPartSize = 1L * 1024 * 1024 * 1024;
    /// <summary>Default number of parts uploaded at once.</summary>
    public const int DefaultConcurrency = 5;
    /// <summary>HeadObject requests in flight when listing with accurate timestamps (upstream <c>DefaultMetadataConcurrency</c>).</summary>
    public const int MetadataConcurrency = 50;
    /// <summary>User metadata key holding the LTX creation time (sent as <c>x-amz-meta-litestream-timestamp</c>).</summary>
    public const string TimestampMetadataKey = "litestream-timestamp";

    /// <summary>The largest object one CopyObject request copies (S3's limit; larger ones need a multipart copy).</summary>
    private const long MaxCopyObjectSize = 5L << 30;
    /// <summary>
    /// Default SDK retries per request after the first attempt (5xx, throttling, dropped connections): 3, about
    /// aws-sdk-go v2's default of 3 attempts upstream uses. The replicator retries failed passes on its own with
    /// a growing backoff and reports each failure; ten SDK retries (over a minute of backoff) only hid an outage.
    /// </summary>
    public const int DefaultMaxErrorRetries = 3;

    /// <summary>
    /// Longest the SDK's own credential chain (shared profile, web identity, container, EC2 instance role) may take
    /// when no key is configured: off EC2 the instance-metadata probe could otherwise take the SDK's 35 s.
    /// </summary>
    internal static readonly TimeSpan CredentialProbeTimeout = TimeSpan.FromSeconds(5);

    private AWSCredentials? _credentials;
    /// <summary>The gs backend's object names (<c>ltx/&lt;level&gt;/</c>) rather than S3's (<c>&lt;level as %04x&gt;/</c>).</summary>
    private readonly bool _gsLayout;
    private readonly string? _endpoint;
    private readonly string? _region;
    private readonly bool _forcePathStyle;
    private readonly bool _skipVerify;
    private readonly bool _signPayload;
    private readonly bool _requireContentMd5;
    private readonly long _partSize;
    private readonly int _concurrency;
    private readonly S3StorageClass? _storageClass;
    private readonly string? _sseCustomerKey;
    private readonly string? _sseKmsKeyId;
    private readonly SemaphoreSlim _initLock = new(1, 1);
    private AmazonS3Client? _s3;

    /// <summary>
    /// Creates a client from replica settings. Credentials come from the settings, else
    /// <c>LITESTREAM_ACCESS_KEY_ID</c>/<c>LITESTREAM_SECRET_ACCESS_KEY</c>, else
    /// <c>AWS_ACCESS_KEY_ID</c>/<c>AWS_SECRET_ACCESS_KEY</c> (with <c>AWS_SESSION_TOKEN</c>), else the SDK's
    /// default chain (shared profile, container and instance roles). The endpoint comes from the settings,
    /// else <c>LITESTREAM_S3_ENDPOINT</c>. Nothing is sent until the first operation.
    /// </summary>
    /// <exception cref="ArgumentException">The bucket is missing or a size/concurrency setting is out of range.</exception>
    public S3ReplicaClient(S3ReplicaSettings settings)
        : this(settings, "s3")
    {
    }

    /// <summary>
    /// A client that names itself <paramref name="type"/> (a backend reached through the S3 API, e.g. "oss"), with
    /// <paramref name="provider"/>'s rules whatever the endpoint (null: detected from it); with
    /// <paramref name="gsLayout"/>, objects are named as the gs backend names them (<c>&lt;path&gt;/ltx/&lt;level&gt;/</c>),
    /// so a bucket reached with HMAC keys holds the same replica as through the JSON API.
    /// </summary>
    private protected S3ReplicaClient(S3ReplicaSettings settings, string type, S3Provider? provider = null, bool gsLayout = false)
    {
        _gsLayout = gsLayout;
        ArgumentNullException.ThrowIfNull(settings);
        Settings = settings;
        Type = type;
        Bucket = string.IsNullOrEmpty(settings.Bucket) ? throw new ArgumentException($"{type} replica requires a bucket") : settings.Bucket;
        Path = settings.Path ?? "";

        string? endpoint = NonEmpty(settings.Endpoint) ?? NonEmpty(Environment.GetEnvironmentVariable("LITESTREAM_S3_ENDPOINT"));
        _endpoint = endpoint is null ? null : S3Provider.WithScheme(endpoint);
        Provider = provider ?? S3Provider.Detect(_endpoint);
        _region = NonEmpty(settings.Region) ?? (_endpoint is not null ? DefaultRegion : null);
        // Path style whenever an endpoint is set (as upstream's config does), unless the provider or the user says otherwise.
        _forcePathStyle = settings.ForcePathStyle ?? Provider.ForcePathStyle ?? _endpoint is not null;
        _skipVerify = settings.SkipVerify ?? false;
        _signPayload = settings.SignPayload ?? true;
        _requireContentMd5 = settings.RequireContentMd5 ?? Provider.RequireContentMd5 ?? true;

        _partSize = settings.PartSize is null or 0 ? DefaultPartSize : settings.PartSize.Value;
        if (_partSize is < MinPartSize or > MaxPartSize)
        {
            throw new ArgumentException($"{type} part-size must be between {MinPartSize} and {MaxPartSize} bytes, got {settings.PartSize}");
        }
        _concurrency = settings.Concurrency is null or 0 ? Provider.Concurrency ?? DefaultConcurrency : settings.Concurrency.Value;
        if (_concurrency is < 1 or > 64)
        {
            throw new ArgumentException($"{type} concurrency must be between 1 and 64, got {settings.Concurrency}");
        }
        _storageClass = NonEmpty(settings.StorageClass) is { } storageClass ? new S3StorageClass(storageClass) : null;
        _sseKmsKeyId = NonEmpty(settings.SseKmsKeyId);
        _sseCustomerKey = NonEmpty(settings.SseCustomerKey)
            ?? (NonEmpty(settings.SseCustomerKeyPath) is { } keyPath ? System.IO.File.ReadAllText(keyPath).Trim() : null);
        if (_sseCustomerKey is not null && settings.SseCustomerAlgorithm is { Length: > 0 } algorithm && algorithm != "AES256")
        {
            throw new ArgumentException($"s3 sse-customer-algorithm must be AES256, got \"{algorithm}\"");
        }
        MaxErrorRetries = settings.MaxRetries ?? DefaultMaxErrorRetries;
        RequestTimeout = settings.RequestTimeout;

        // The environment (or the defaults) bound every stall; an explicit connect timeout wins for connecting.
        Timeouts = StorageTimeouts.FromEnvironment();
        if (settings.ConnectTimeout is TimeSpan connect)
        {
            Timeouts = Timeouts with { Connect = connect };
        }
        _credentials = ResolveCredentials(settings);
        Redaction.Register(_sseCustomerKey);
    }

    /// <summary>Creates the client from settings (used by <see cref="ReplicaClientFactory"/>).</summary>
    public static IReplicaClient Create(S3ReplicaSettings settings) => new S3ReplicaClient(settings);

    /// <summary>The settings this client was made with (ToString prints no credential).</summary>
    public S3ReplicaSettings Settings { get; }

    /// <summary>The S3-compatible provider the endpoint names, and what it needs.</summary>
    internal S3Provider Provider { get; }

    /// <summary>The endpoint in use (with its scheme), or null for AWS.</summary>
    internal string? Endpoint => _endpoint;

    /// <summary>Path-style addressing in use.</summary>
    internal bool ForcePathStyle => _forcePathStyle;

    /// <summary>Parts uploaded at once.</summary>
    internal int Concurrency => _concurrency;

    /// <summary>Multi-object deletes carry Content-MD5.</summary>
    internal bool RequireContentMd5 => _requireContentMd5;

    /// <inheritdoc />
    public string Type { get; }

    /// <summary>The bucket.</summary>
    public string Bucket { get; }

    /// <summary>The key prefix every object of this replica lives under (no trailing slash).</summary>
    public string Path { get; }

    /// <summary>SDK retries per request after the first attempt; set before the first operation.</summary>
    internal int MaxErrorRetries { get; set; }

    /// <summary>Limits on a stalled connection (settings, else the environment, else the defaults); set before the first operation.</summary>
    internal StorageTimeouts Timeouts { get; set; }

    /// <summary>Whole-request timeout per attempt (null: the SDK default); set before the first operation.</summary>
    internal TimeSpan? RequestTimeout { get; set; }

    /// <summary>Keys per LIST request; lowered only by tests that prove pagination cheaply.</summary>
    internal int ListPageSize { get; set; } = MaxKeys;

    /// <summary>Key prefix of one level, e.g. <c>db/0009/</c>.</summary>
    public string LevelPrefix(int level) => _gsLayout
        ? $"{(Path.Length == 0 ? "" : Path + "/")}ltx/{level.ToString(CultureInfo.InvariantCulture)}/"
        : $"{Path}/{level.ToString("x4", CultureInfo.InvariantCulture)}/";

    /// <summary>Object key of one LTX file, e.g. <c>db/0000/0000000000000005-0000000000000005.ltx</c>.</summary>
    public string LtxKey(int level, Txid minTxid, Txid maxTxid) => LevelPrefix(level) + LtxFileName.Format(minTxid, maxTxid);

    /// <inheritdoc />
    public async ValueTask InitAsync(CancellationToken cancellationToken) => await GetClientAsync(cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public IAsyncEnumerable<LtxFileInfo> ListLtxFilesAsync(int level, Txid seek, bool useMetadata, CancellationToken cancellationToken)
    {
        return List(cancellationToken);

        async IAsyncEnumerable<LtxFileInfo> List([EnumeratorCancellation] CancellationToken token)
        {
            AmazonS3Client s3 = await GetClientAsync(token).ConfigureAwait(false);
            string prefix = LevelPrefix(level);
            var request = new ListObjectsV2Request
            {
                BucketName = Bucket,
                Prefix = prefix,
                Delimiter = "/",
                MaxKeys = ListPageSize,
                // Names are fixed-width lowercase hex, so list order is (MinTxid, MaxTxid) order and every
                // key "<seek>-…" sorts after "<seek>": the server skips the files below seek.
                StartAfter = seek.IsZero ? null : prefix + seek.ToString(),
            };
            await foreach (ListObjectsV2Response page in ListPagesAsync(s3, request, token).ConfigureAwait(false))
            {
                var files = new List<LtxFileInfo>(page.S3Objects?.Count ?? 0);
                foreach (S3Object item in page.S3Objects ?? [])
                {
                    if (item.Key is not { } key || !key.StartsWith(prefix, StringComparison.Ordinal)
                        || !LtxFileName.TryParse(key.AsSpan(prefix.Length), out Txid min, out Txid max) || min < seek)
                    {
                        continue;
                    }
                    files.Add(new LtxFileInfo(level, min, max, item.Size ?? 0, ToUtc(item.LastModified)));
                }
                if (useMetadata && files.Count > 0)
                {
                    await ReadTimestampsAsync(s3, files, token).ConfigureAwait(false);
                }
                foreach (LtxFileInfo file in files)
                {
                    yield return file;
                }
            }
        }
    }

    /// <summary>The pages of one listing, each one counted LIST request.</summary>
    private async IAsyncEnumerable<ListObjectsV2Response> ListPagesAsync(AmazonS3Client s3, ListObjectsV2Request request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        bool more;
        do
        {
            ListObjectsV2Response page;
            var op = ReplicaOperation.Start(Type, ReplicaOperation.List);
            try
            {
                page = await UntilCancelledAsync(s3.ListObjectsV2Async(request, cancellationToken), cancellationToken).ConfigureAwait(false);
                op.Succeeded();
            }
            catch (Exception e) when (IsStorageError(e) && !op.Failed(e, ErrorCode(e)))
            {
                throw Failure("list", request.Prefix, e);
            }
            yield return page;
            request.ContinuationToken = page.NextContinuationToken;
            more = page.IsTruncated == true && !string.IsNullOrEmpty(page.NextContinuationToken);
        }
        while (more);
    }

    /// <inheritdoc />
    public async ValueTask<Stream> OpenLtxFileAsync(int level, Txid minTxid, Txid maxTxid, long offset, long size, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        return await OpenKeyAsync(LtxKey(level, minTxid, maxTxid), offset, size, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Opens <paramref name="size"/> bytes (0: to the end) of one object from <paramref name="offset"/>.</summary>
    private async ValueTask<Stream> OpenKeyAsync(string key, long offset, long size, CancellationToken cancellationToken)
    {
        AmazonS3Client s3 = await GetClientAsync(cancellationToken).ConfigureAwait(false);
        var request = new GetObjectRequest { BucketName = Bucket, Key = key };
        if (size > 0)
        {
            request.ByteRange = new ByteRange(offset, offset + size - 1);
        }
        else if (offset > 0)
        {
            request.ByteRange = new ByteRange(string.Create(CultureInfo.InvariantCulture, $"bytes={offset}-"));
        }
        if (_sseCustomerKey is not null)
        {
            request.ServerSideEncryptionCustomerMethod = ServerSideEncryptionCustomerMethod.AES256;
            request.ServerSideEncryptionCustomerProvidedKey = _sseCustomerKey;
        }
        var op = ReplicaOperation.Start(Type, ReplicaOperation.Get);
        try
        {
            GetObjectResponse response = await UntilCancelledAsync(s3.GetObjectAsync(request, cancellationToken), cancellationToken).ConfigureAwait(false);
            op.Succeeded(size > 0 ? Math.Min(size, response.ContentLength) : response.ContentLength);
            Stream body = new ResponseStream(response, $"s3: get object {Location(key)}");
            try
            {
                // A server that ignores Range answers 200 with the whole object, and some (s3rver) answer
                // "bytes=0-0" with everything: skip and bound here so callers always get exactly the range.
                if (request.ByteRange is not null && response.HttpStatusCode != HttpStatusCode.PartialContent && offset > 0)
                {
                    await StreamSkip.SkipAsync(body, offset, cancellationToken).ConfigureAwait(false);
                }
                return size > 0 ? new BoundedStream(body, size) : body;
            }
            catch
            {
                await body.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }
        catch (AmazonS3Exception e) when ((e.ErrorCode == "NoSuchKey" || (e.StatusCode == HttpStatusCode.NotFound && e.ErrorCode != "NoSuchBucket")) && !op.Failed(e, ErrorCode(e)))
        {
            throw new ReplicaFileNotFoundException(Location(key));
        }
        catch (Exception e) when (IsStorageError(e) && !op.Failed(e, ErrorCode(e)))
        {
            throw Failure("get object", key, e);
        }
    }

    /// <summary>
    /// Waits for an SDK call, but not past a cancellation: the SDK parses response bodies (listings, metadata,
    /// delete results) without watching the token, so a cancelled restore could sit on a stalled listing until
    /// the idle limit ended it. The abandoned call still ends within that limit; its result is disposed and its
    /// error observed. Uploads are never abandoned: their body is a pooled buffer the SDK may still be sending.
    /// </summary>
    private static async Task<T> UntilCancelledAsync<T>(Task<T> call, CancellationToken cancellationToken)
    {
        try
        {
            return await call.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!call.IsCompleted)
        {
            _ = call.ContinueWith(static abandoned =>
            {
                if (abandoned.IsCompletedSuccessfully)
                {
                    (abandoned.Result as IDisposable)?.Dispose();
                }
                else
                {
                    _ = abandoned.Exception;
                }
            }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            throw;
        }
    }

    /// <inheritdoc />
    public async ValueTask DeleteLtxFilesAsync(IReadOnlyList<LtxFileInfo> files, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(files);
        if (files.Count == 0)
        {
            return;
        }
        var keys = new List<string>(files.Count);
        foreach (LtxFileInfo file in files)
        {
            keys.Add(LtxKey(file.Level, file.MinTxid, file.MaxTxid));
        }
        await DeleteKeysAsync(keys, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask DeleteAllAsync(CancellationToken cancellationToken)
    {
        AmazonS3Client s3 = await GetClientAsync(cancellationToken).ConfigureAwait(false);
        // Upstream lists the bare path as prefix, which would also take "db2/…" with "db"; the slash keeps
        // the deletion inside this replica.
        string prefix = _gsLayout && Path.Length == 0 ? "ltx/" : Path + "/";
        var keys = new List<string>();
        var request = new ListObjectsV2Request { BucketName = Bucket, Prefix = prefix, MaxKeys = ListPageSize };
        await foreach (ListObjectsV2Response page in ListPagesAsync(s3, request, cancellationToken).ConfigureAwait(false))
        {
            keys.AddRange((page.S3Objects ?? []).Select(static item => item.Key));
        }
        await DeleteKeysAsync(keys, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _s3?.Dispose();
        _s3 = null;
        _initLock.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>The replica as a URL, e.g. <c>s3://bucket/db</c> (never with credentials).</summary>
    public override string ToString() => $"{Type}://{Bucket}/{Path}";

    private async ValueTask<AmazonS3Client> GetClientAsync(CancellationToken cancellationToken)
    {
        if (_s3 is { } ready)
        {
            return ready;
        }
        await _initLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_s3 is null)
            {
                AWSCredentials credentials = _credentials ??= await FindCredentialsAsync(cancellationToken).ConfigureAwait(false);
                string region = _region ?? await FindBucketRegionAsync(credentials, cancellationToken).ConfigureAwait(false);
                _s3 = NewClient(region, credentials);
            }
            return _s3;
        }
        catch (CryptographicException e)
        {
            // Signing and the SDK's request ids need random bytes before any request is sent.
            throw new IOException($"{Type}: {RandomSource.Describe(e)}", e);
        }
        finally
        {
            _initLock.Release();
        }
    }

    private AmazonS3Client NewClient(string region, AWSCredentials credentials)
    {
        var config = new AmazonS3Config
        {
            ForcePathStyle = _forcePathStyle,
            RetryMode = RequestRetryMode.Standard,
            MaxErrorRetry = MaxErrorRetries,
            ClientAppId = "litestream",
        };
        if (RequestTimeout is { } request)
        {
            config.Timeout = request;
        }
        if (_endpoint is not null)
        {
            config.ServiceURL = _endpoint;
            config.AuthenticationRegion = region;
            // Custom endpoints get no flexible-checksum trailers (upstream does the same): many
            // S3-compatible servers store the aws-chunked framing as object data.
            config.RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED;
            config.ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED;
        }
        else
        {
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(region);
        }
        config.HttpClientFactory = new S3HttpClientFactory(Timeouts, _skipVerify);
        if (_requireContentMd5)
        {
            DeleteContentMd5.Enable(config);
        }
        var client = new AmazonS3Client(credentials, config);
        if (Provider.ConsistentReads)
        {
            // Tigris serves reads from the nearest region unless told to follow the latest write (upstream does the same).
            client.BeforeRequestEvent += static (_, e) =>
            {
                if (e is WebServiceRequestEventArgs request)
                {
                    request.Headers["X-Tigris-Consistent"] = "true";
                }
            };
        }
        return client;
    }

    /// <summary>
    /// Credentials from the SDK's default chain, when neither the settings nor the environment name a key: a shared
    /// profile, web identity, a container or EC2 instance role (which refresh themselves). Bounded by
    /// <see cref="CredentialProbeTimeout"/>; finding none is one message naming the bucket and every place looked.
    /// </summary>
    private async ValueTask<AWSCredentials> FindCredentialsAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(CredentialProbeTimeout);
        try
        {
            // WaitAsync as well: the token bounds the wait even where a provider does not observe it.
            return await new DefaultAWSCredentialsIdentityResolver().ResolveIdentityAsync(null, timeout.Token).WaitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is AmazonClientException or OperationCanceledException or TimeoutException && !cancellationToken.IsCancellationRequested)
        {
            string profile = NonEmpty(Environment.GetEnvironmentVariable("AWS_PROFILE")) ?? "default";
            throw new ReplicaStorageException(
                $"{Type}://{Bucket}: no credentials: LITESTREAM_ACCESS_KEY_ID/LITESTREAM_SECRET_ACCESS_KEY and AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are not set, "
                + $"the replica config has no access-key-id/secret-access-key, there is no AWS profile \"{profile}\", and no EC2 instance role answered within {GoDuration.Format(CredentialProbeTimeout)}",
                "export LITESTREAM_ACCESS_KEY_ID and LITESTREAM_SECRET_ACCESS_KEY, or set access-key-id and secret-access-key in the replica's config, or AWS_PROFILE to a profile in ~/.aws/credentials");
        }
    }

    /// <summary>Upstream looks the region up when neither a region nor an endpoint is configured.</summary>
    private async ValueTask<string> FindBucketRegionAsync(AWSCredentials credentials, CancellationToken cancellationToken)
    {
        using AmazonS3Client probe = NewClient(DefaultRegion, credentials);
        try
        {
            GetBucketLocationResponse response = await UntilCancelledAsync(probe.GetBucketLocationAsync(new GetBucketLocationRequest { BucketName = Bucket }, cancellationToken), cancellationToken).ConfigureAwait(false);
            string? location = response.Location?.Value;
            // An empty location is us-east-1; "EU" is the legacy name of eu-west-1.
            return string.IsNullOrEmpty(location) ? DefaultRegion : location == "EU" ? "eu-west-1" : location;
        }
        catch (Exception e) when (IsStorageError(e))
        {
            throw Failure("cannot look up bucket region of", "", e);
        }
    }

    private async ValueTask ReadTimestampsAsync(AmazonS3Client s3, List<LtxFileInfo> files, CancellationToken cancellationToken)
    {
        var options = new ParallelOptions { MaxDegreeOfParallelism = MetadataConcurrency, CancellationToken = cancellationToken };
        await Parallel.ForAsync(0, files.Count, options, async (i, token) =>
        {
            LtxFileInfo file = files[i];
            string key = LtxKey(file.Level, file.MinTxid, file.MaxTxid);
            var request = new GetObjectMetadataRequest { BucketName = Bucket, Key = key };
            if (_sseCustomerKey is not null)
            {
                request.ServerSideEncryptionCustomerMethod = ServerSideEncryptionCustomerMethod.AES256;
                request.ServerSideEncryptionCustomerProvidedKey = _sseCustomerKey;
            }
            GetObjectMetadataResponse head;
            try
            {
                head = await UntilCancelledAsync(s3.GetObjectMetadataAsync(request, token), token).ConfigureAwait(false);
            }
            catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
            {
                return; // deleted since the listing: keep the listing time
            }
            catch (Exception e) when (IsStorageError(e))
            {
                throw Failure("head object", key, e);
            }
            // Objects written without the metadata (other tools) keep LastModified, as upstream.
            if (ReplicaTimestamp.TryParse(head.Metadata[TimestampMetadataKey], out DateTimeOffset created))
            {
                files[i] = file with { CreatedAt = created };
            }
        }).ConfigureAwait(false);
    }

    private async ValueTask DeleteKeysAsync(List<string> keys, CancellationToken cancellationToken)
    {
        AmazonS3Client s3 = await GetClientAsync(cancellationToken).ConfigureAwait(false);
        if (Provider.SingleObjectDeletes)
        {
            await DeleteKeysOneByOneAsync(s3, keys, cancellationToken).ConfigureAwait(false);
            return;
        }
        for (int start = 0; start < keys.Count; start += MaxKeys)
        {
            int count = Math.Min(MaxKeys, keys.Count - start);
            var request = new DeleteObjectsRequest { BucketName = Bucket, Quiet = true, Objects = new List<KeyVersion>(count) };
            for (int i = start; i < start + count; i++)
            {
                request.Objects.Add(new KeyVersion { Key = keys[i] });
            }
            List<DeleteError>? errors;
            var op = ReplicaOperation.Start(Type, ReplicaOperation.Delete);
            try
            {
                errors = (await UntilCancelledAsync(s3.DeleteObjectsAsync(request, cancellationToken), cancellationToken).ConfigureAwait(false)).DeleteErrors;
            }
            catch (DeleteObjectsException e)
            {
                errors = e.Response?.DeleteErrors;
            }
            catch (Exception e) when (IsStorageError(e) && !op.Failed(e, ErrorCode(e)))
            {
                throw Failure("delete objects", keys[start], e);
            }
            if (errors is not { Count: > 0 })
            {
                op.Succeeded(count: count);
            }
            else
            {
                DeleteError first = errors[0];
                // As upstream: one error per key that failed, with S3's code.
                foreach (DeleteError error in errors)
                {
                    op.Failed(new IOException(error.Message), error.Code ?? "Error");
                }
                string others = errors.Count > 1 ? $" (and {errors.Count - 1} others)" : "";
                throw new IOException(Redaction.Apply($"{Type}: delete object {Location(first.Key)}: {first.Code}: {first.Message}{others}"));
            }
        }
    }

    /// <summary>One DELETE a key, <see cref="_concurrency"/> at once (a store without multi-object delete); a key already gone is fine.</summary>
    private async ValueTask DeleteKeysOneByOneAsync(AmazonS3Client s3, List<string> keys, CancellationToken cancellationToken)
    {
        var options = new ParallelOptions { MaxDegreeOfParallelism = _concurrency, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(keys, options, async (key, token) =>
        {
            var op = ReplicaOperation.Start(Type, ReplicaOperation.Delete);
            try
            {
                await UntilCancelledAsync(s3.DeleteObjectAsync(new DeleteObjectRequest { BucketName = Bucket, Key = key }, token), token).ConfigureAwait(false);
                op.Succeeded(count: 1);
            }
            catch (AmazonS3Exception e) when (e.StatusCode == System.Net.HttpStatusCode.NotFound && e.ErrorCode != "NoSuchBucket")
            {
                op.Succeeded(count: 1);
            }
            catch (Exception e) when (IsStorageError(e) && !op.Failed(e, ErrorCode(e)))
            {
                throw Failure("delete object", key, e);
            }
        }).ConfigureAwait(false);
    }

    /// <summary>
    /// An error naming the operation and the object, with any credential replaced: the inner exception is
    /// kept only when its own text carries none (its ToString is logged by some hosts).
    /// </summary>
    private IOException Failure(string operation, string key, Exception error)
    {
        string detail = error switch
        {
            AmazonServiceException { ErrorCode: { Length: > 0 } code } service when service.StatusCode != 0
                => $"{code} (HTTP {(int)service.StatusCode}): {service.Message}",
            AmazonServiceException service when service.StatusCode != 0 => $"HTTP {(int)service.StatusCode}: {service.Message}",
            CryptographicException crypto => RandomSource.Describe(crypto),
            _ => error.InnerException is { } inner && error is AmazonClientException or AmazonServiceException
                ? $"{error.Message}: {inner.Message}"
                : error.Message,
        };
        string message = Redaction.Apply($"{Type}: {operation} {Location(key)}: {detail}");
        string full = error.ToString();
        return Redaction.Apply(full) != full ? new IOException(message) : new IOException(message, error);
    }

    /// <summary>The storage's error code for the metrics: S3's code, else the HTTP status; null for a client-side failure.</summary>
    private static string? ErrorCode(Exception e) => e switch
    {
        AmazonServiceException { ErrorCode: { Length: > 0 } code } => code,
        AmazonServiceException { StatusCode: not 0 } service => ((int)service.StatusCode).ToString(CultureInfo.InvariantCulture),
        _ => null,
    };

    private string Location(string key) => $"{Type}://{Bucket}/{key}";

    private static bool IsStorageError(Exception e) => e is AmazonServiceException or AmazonClientException or HttpRequestException or IOException or StallException or CryptographicException;

    private static AWSCredentials? ResolveCredentials(S3ReplicaSettings settings)
    {
        string? id = NonEmpty(settings.AccessKeyId), secret = NonEmpty(settings.SecretAccessKey), token = null;
        if (id is null && secret is null)
        {
            id = NonEmpty(Environment.GetEnvironmentVariable("LITESTREAM_ACCESS_KEY_ID"));
            secret = NonEmpty(Environment.GetEnvironmentVariable("LITESTREAM_SECRET_ACCESS_KEY"));
        }
        if (id is null && secret is null)
        {
            id = NonEmpty(Environment.GetEnvironmentVariable("AWS_ACCESS_KEY_ID"));
            secret = NonEmpty(Environment.GetEnvironmentVariable("AWS_SECRET_ACCESS_KEY"));
            token = NonEmpty(Environment.GetEnvironmentVariable("AWS_SESSION_TOKEN"));
        }
        if (id is null && secret is null)
        {
            return null; // SDK default chain: profile, container and instance credentials
        }
        if (id is null || secret is null)
        {
            throw new ArgumentException("s3 credentials need both an access key id and a secret access key");
        }
        // The key id is not secret on its own, but it is half of the pair and useless in a log line.
        foreach (string? credential in (string?[])[secret, id, token])
        {
            Redaction.Register(credential);
        }
        return token is null ? new BasicAWSCredentials(id, secret) : new SessionAWSCredentials(id, secret, token);
    }

    private static string? NonEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    private static DateTimeOffset ToUtc(DateTime? time) => time switch
    {
        null => DateTimeOffset.UnixEpoch,
        { Kind: DateTimeKind.Unspecified } t => new DateTimeOffset(DateTime.SpecifyKind(t, DateTimeKind.Utc)),
        { } t => new DateTimeOffset(t.ToUniversalTime()),
    };

    /// <summary>
    /// The object body; disposing it releases the HTTP response. A stalled body fails with an error naming the
    /// object (<paramref name="what"/>).
    /// </summary>
    private sealed class ResponseStream(GetObjectResponse response, string what) : Litestream.Internal.ReadOnlyStream
    {
        private readonly Stream _body = response.ResponseStream;

        public override long Length => response.ContentLength;

        public override int Read(Span<byte> buffer)
        {
            try
            {
                return _body.Read(buffer);
            }
            catch (StallException e)
            {
                throw new IOException($"{what}: {e.Message}");
            }
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            try
            {
                return await _body.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            }
            catch (StallException e)
            {
                throw new IOException($"{what}: {e.Message}");
            }
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                response.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
