using System.Globalization;
using System.Net;
using System.Runtime.CompilerServices;
using Azure;
using Azure.Core.Pipeline;
using Azure.Storage;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Litestream.Internal;
using Litestream.Ltx;

namespace Litestream.Storage.Abs;

/// <summary>
/// A replica in an Azure Blob Storage container (upstream <c>abs.ReplicaClient</c>): blobs at
/// <c>&lt;path&gt;/ltx/&lt;level&gt;/&lt;min&gt;-&lt;max&gt;.ltx</c>, each carrying the LTX header timestamp as metadata
/// <c>litestreamtimestamp</c>, which listings return at no extra cost. An upload is one Put Blob, or staged
/// blocks committed by one Put Block List: readers never see a partial file. Credentials: a SAS token, else
/// the account key (settings first, then <c>LITESTREAM_AZURE_SAS_TOKEN</c>/<c>AZURE_STORAGE_SAS_TOKEN</c> and
/// <c>LITESTREAM_AZURE_ACCOUNT_KEY</c>/<c>AZURE_STORAGE_KEY</c>); the account name from the settings or
/// <c>AZURE_STORAGE_ACCOUNT</c>. With neither, Entra ID tokens as upstream's default credential chain finds them
/// (a service principal, workload identity, managed identity: <see cref="AbsTokenCredential"/>), over https only.
/// Every request has a bounded connect time and a bounded time per attempt, including each read of a body.
/// </summary>
[ReplicaBackend("abs")]
public sealed partial class AbsReplicaClient : IReplicaClient
{
    /// <summary>Blob metadata key of the LTX creation time (Azure metadata names cannot hold '-').</summary>
    public const string TimestampMetadataKey = "litestreamtimestamp";
    /// <summary>Default retries after the first attempt.</summary>
    public const int DefaultMaxRetries = 3;
    /// <summary>Default longest TCP connect and TLS handshake.</summary>
    public static readonly TimeSpan DefaultConnectTimeout = TimeSpan.FromSeconds(10);
    /// <summary>Default longest attempt: waiting for response headers, and each read of a response body.</summary>
    public static readonly TimeSpan DefaultRequestTimeout = TimeSpan.FromSeconds(60);
    /// <summary>Uploads up to this size are one Put Blob; larger ones are staged in blocks of this size.</summary>
    public const int BlockSize = 4 * 1024 * 1024;
    /// <summary>Blocks uploaded at once.</summary>
    public const int UploadConcurrency = 4;
    /// <summary>Deletes in flight (Azure has no multi-object delete without the batch package).</summary>
    public const int DeleteConcurrency = 16;

    private readonly BlobContainerClient _container;
    private readonly string _endpoint;
    /// <summary>Entra ID tokens when neither an account key nor a SAS token is configured; null otherwise.</summary>
    private readonly AbsTokenCredential? _token;

    /// <summary>Creates a client; nothing is sent until the first operation.</summary>
    /// <exception cref="ArgumentException">No container, no endpoint or account, no credentials, or a malformed key or endpoint.</exception>
    public AbsReplicaClient(AbsReplicaSettings settings)
        : this(settings, Environment.GetEnvironmentVariable, configureHandler: null)
    {
    }

    /// <summary>
    /// Creates a client that reads credentials from <paramref name="environment"/> and whose HTTP handler
    /// <paramref name="configureHandler"/> adjusts (tests: Azurite over TLS with a self-signed certificate).
    /// </summary>
    internal AbsReplicaClient(AbsReplicaSettings settings, Func<string, string?> environment, Action<SocketsHttpHandler>? configureHandler)
    {
        ArgumentNullException.ThrowIfNull(settings);
        Settings = settings;
        Container = NonEmpty(settings.Bucket) ?? throw new ArgumentException("abs replica requires a container (bucket)");
        string? path = settings.Path?.Trim('/');
        Path = path is null or "." ? "" : path;
        string? account = NonEmpty(settings.AccountName) ?? NonEmpty(environment("AZURE_STORAGE_ACCOUNT"));
        string? sas = NonEmpty(settings.SasToken) ?? NonEmpty(environment("LITESTREAM_AZURE_SAS_TOKEN")) ?? NonEmpty(environment("AZURE_STORAGE_SAS_TOKEN"));
        string? key = NonEmpty(settings.AccountKey) ?? NonEmpty(environment("LITESTREAM_AZURE_ACCOUNT_KEY")) ?? NonEmpty(environment("AZURE_STORAGE_KEY"));
        _endpoint = (NonEmpty(settings.Endpoint) ?? (account is not null ? $"https://{account}.blob.core.windows.net"
            : throw new ArgumentException("abs replica requires account-name (or AZURE_STORAGE_ACCOUNT) or endpoint"))).TrimEnd('/');
        if (!Uri.TryCreate($"{_endpoint}/{Container}", UriKind.Absolute, out Uri? containerUri) || containerUri.Scheme is not ("http" or "https"))
        {
            throw new ArgumentException($"abs endpoint must be an http(s) URL, got \"{ReplicaUrl.Redact(_endpoint)}\"");
        }
        Redaction.Register(sas?.TrimStart('?'));
        Redaction.Register(key);
        BlobClientOptions options = NewOptions(settings, configureHandler);
        if (sas is not null)
        {
            _container = new BlobContainerClient(new Uri($"{containerUri}?{sas.TrimStart('?')}"), options);
        }
        else if (key is not null)
        {
            if (account is null)
            {
                throw new ArgumentException("abs account-key needs account-name (or AZURE_STORAGE_ACCOUNT)");
            }
            StorageSharedKeyCredential credential;
            try
            {
                credential = new StorageSharedKeyCredential(account, key);
            }
            catch (FormatException)
            {
                throw new ArgumentException("abs account-key is not valid base64");
            }
            _container = new BlobContainerClient(containerUri, credential, options);
        }
        else
        {
            // Bearer tokens go only over TLS (Azure.Core refuses them on http at the first request: say so now).
            if (containerUri.Scheme != "https")
            {
                throw new ArgumentException($"abs: without account-key or sas-token the endpoint must be https (Entra ID tokens are not sent in clear), got \"{ReplicaUrl.Redact(_endpoint)}\"");
            }
            _token = AbsTokenCredential.Find(environment, settings.ConnectTimeout ?? DefaultConnectTimeout);
            _container = new BlobContainerClient(containerUri, _token, options);
        }
    }

    /// <summary>Creates the client from settings (used by <see cref="ReplicaClientFactory"/>).</summary>
    public static IReplicaClient Create(AbsReplicaSettings settings) => new AbsReplicaClient(settings);

    /// <summary>The settings this client was made with (ToString prints no credential).</summary>
    public AbsReplicaSettings Settings { get; }

    /// <inheritdoc />
    public string Type => "abs";

    /// <summary>The container.</summary>
    public string Container { get; }

    /// <summary>The blob name prefix every file of this replica lives under ("" for the container's root).</summary>
    public string Path { get; }

    /// <summary>Where Entra ID tokens come from (never a secret); null when an account key or SAS token authorizes requests.</summary>
    internal string? TokenSource => _token?.Description;

    /// <summary>Blobs per LIST page; lowered only by tests that prove paging cheaply.</summary>
    internal int ListPageSize { get; set; } = 5000;

    /// <summary>Blob name prefix of one level, e.g. <c>db/ltx/9/</c>.</summary>
    public string LevelPrefix(int level) => $"{(Path.Length == 0 ? "" : Path + "/")}ltx/{level.ToString(CultureInfo.InvariantCulture)}/";

    /// <summary>Blob name of one LTX file.</summary>
    public string LtxName(int level, Txid minTxid, Txid maxTxid) => LevelPrefix(level) + LtxFileName.Format(minTxid, maxTxid);

    /// <inheritdoc />
    public ValueTask InitAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <inheritdoc />
    public IAsyncEnumerable<LtxFileInfo> ListLtxFilesAsync(int level, Txid seek, bool useMetadata, CancellationToken cancellationToken)
    {
        return List(cancellationToken);

        // Listings carry the metadata, so the header timestamp costs nothing whatever useMetadata says.
        async IAsyncEnumerable<LtxFileInfo> List([EnumeratorCancellation] CancellationToken token)
        {
            string prefix = LevelPrefix(level);
            await foreach (BlobItem item in ListBlobsAsync(prefix, BlobTraits.Metadata, token).ConfigureAwait(false))
            {
                // Names are fixed-width hex, so the listing's name order is (MinTxid, MaxTxid) order.
                if (!LtxFileName.TryParse(item.Name.AsSpan(prefix.Length), out Txid min, out Txid max) || min < seek)
                {
                    continue;
                }
                DateTimeOffset created = item.Metadata is { } metadata && metadata.TryGetValue(TimestampMetadataKey, out string? stamp)
                    && ReplicaTimestamp.TryParse(stamp, out DateTimeOffset parsed)
                    ? parsed
                    : item.Properties.CreatedOn ?? item.Properties.LastModified ?? DateTimeOffset.UnixEpoch;
                yield return new LtxFileInfo(level, min, max, item.Properties.ContentLength ?? 0, created);
            }
        }
    }

    /// <summary>Every blob whose name starts with <paramref name="prefix"/>, in name order, one counted LIST request a page.</summary>
    private async IAsyncEnumerable<BlobItem> ListBlobsAsync(string prefix, BlobTraits traits, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var options = new GetBlobsOptions { Traits = traits, Prefix = prefix };
        string? continuation = null;
        do
        {
            Page<BlobItem> page;
            var op = ReplicaOperation.Start(Type, ReplicaOperation.List);
            try
            {
                IAsyncEnumerator<Page<BlobItem>> pages = _container.GetBlobsAsync(options, cancellationToken).AsPages(continuation, ListPageSize).GetAsyncEnumerator(cancellationToken);
                await using (pages.ConfigureAwait(false))
                {
                    bool any = await pages.MoveNextAsync().ConfigureAwait(false);
                    op.Succeeded();
                    if (!any)
                    {
                        yield break;
                    }
                    page = pages.Current;
                }
            }
            catch (Exception e) when (IsStorageError(e, cancellationToken) && !op.Failed(e, ErrorCode(e)))
            {
                throw Failure("list", prefix, e);
            }
            foreach (BlobItem item in page.Values)
            {
                if (item.Name.StartsWith(prefix, StringComparison.Ordinal))
                {
                    yield return item;
                }
            }
            continuation = string.IsNullOrEmpty(page.ContinuationToken) ? null : page.ContinuationToken;
        }
        while (continuation is not null);
    }

    /// <inheritdoc />
    public async ValueTask<Stream> OpenLtxFileAsync(int level, Txid minTxid, Txid maxTxid, long offset, long size, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        return await OpenBlobAsync(LtxName(level, minTxid, maxTxid), offset, size, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Opens <paramref name="size"/> bytes (0: to the end) of one blob from <paramref name="offset"/>.</summary>
    private async ValueTask<Stream> OpenBlobAsync(string name, long offset, long size, CancellationToken cancellationToken)
    {
        var options = new BlobDownloadOptions { Range = new HttpRange(offset, size > 0 ? size : null) };
        var op = ReplicaOperation.Start(Type, ReplicaOperation.Get);
        try
        {
            Response<BlobDownloadStreamingResult> response = await _container.GetBlobClient(name).DownloadStreamingAsync(options, cancellationToken).ConfigureAwait(false);
            op.Succeeded(response.Value.Details.ContentLength);
            return new DownloadStream(response.Value);
        }
        catch (RequestFailedException e) when (e.ErrorCode == BlobErrorCode.BlobNotFound && !op.Failed(e, ErrorCode(e)))
        {
            throw new ReplicaFileNotFoundException(Location(name));
        }
        catch (Exception e) when (IsStorageError(e, cancellationToken) && !op.Failed(e, ErrorCode(e)))
        {
            throw Failure("get", name, e);
        }
    }

    /// <inheritdoc />
    public async ValueTask<LtxFileInfo> WriteLtxFileAsync(int level, Txid minTxid, Txid maxTxid, Stream data, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(data);
        string name = LtxName(level, minTxid, maxTxid);
        (HeaderedStream body, DateTimeOffset createdAt) = await HeaderedStream.ReadLtxHeaderAsync(data, cancellationToken).ConfigureAwait(false);
        using var disposeBody = body;
        var options = new BlobUploadOptions
        {
            Metadata = new Dictionary<string, string> { [TimestampMetadataKey] = ReplicaTimestamp.Format(createdAt) },
            HttpHeaders = new BlobHttpHeaders { ContentType = "application/octet-stream" },
            TransferOptions = new StorageTransferOptions { InitialTransferSize = BlockSize, MaximumTransferSize = BlockSize, MaximumConcurrency = UploadConcurrency },
        };
        var op = ReplicaOperation.Start(Type, ReplicaOperation.Put);
        try
        {
            await _container.GetBlobClient(name).UploadAsync(body, options, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (IsStorageError(e, cancellationToken) && !op.Failed(e, ErrorCode(e)))
        {
            throw Failure("put", name, e);
        }
        op.Succeeded(body.Count);
        return new LtxFileInfo(level, minTxid, maxTxid, body.Count, createdAt);
    }

    /// <summary>
    /// Azure's Copy Blob within the account (authorized by this client's own credential): no byte passes through this
    /// machine, and the copy keeps the source's metadata, so the header timestamp comes along.
    /// </summary>
    public async ValueTask<LtxFileInfo?> CopyLtxFileAsync(LtxFileInfo source, int level, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        string from = LtxName(source.Level, source.MinTxid, source.MaxTxid);
        string name = LtxName(level, source.MinTxid, source.MaxTxid);
        var op = ReplicaOperation.Start(Type, ReplicaOperation.Put);
        try
        {
            CopyFromUriOperation copy = await _container.GetBlobClient(name).StartCopyFromUriAsync(_container.GetBlobClient(from).Uri, cancellationToken: cancellationToken).ConfigureAwait(false);
            // Within one account a copy is done at once; a pending one is polled, each poll bounded like any request.
            await copy.WaitForCompletionAsync(TimeSpan.FromMilliseconds(200), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (IsStorageError(e, cancellationToken) && !op.Failed(e, ErrorCode(e)))
        {
            throw Failure("copy", name, e);
        }
        op.Succeeded(0);
        return source with { Level = level };
    }

    /// <inheritdoc />
    public async ValueTask DeleteLtxFilesAsync(IReadOnlyList<LtxFileInfo> files, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(files);
        var names = new List<string>(files.Count);
        foreach (LtxFileInfo file in files)
        {
            names.Add(LtxName(file.Level, file.MinTxid, file.MaxTxid));
        }
        await DeleteAsync(names, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask DeleteAllAsync(CancellationToken cancellationToken)
    {
        // Only this replica's blobs: its path, or the ltx/ tree when it sits at the container's root.
        string prefix = Path.Length == 0 ? "ltx/" : Path + "/";
        var names = new List<string>();
        await foreach (BlobItem item in ListBlobsAsync(prefix, BlobTraits.None, cancellationToken).ConfigureAwait(false))
        {
            names.Add(item.Name);
        }
        await DeleteAsync(names, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    /// <summary>The replica as a URL, e.g. <c>abs://container/db</c> (never with credentials).</summary>
    public override string ToString() => $"abs://{Container}/{Path}";

    private async ValueTask DeleteAsync(List<string> names, CancellationToken cancellationToken)
    {
        var options = new ParallelOptions { MaxDegreeOfParallelism = DeleteConcurrency, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(names, options, async (name, token) =>
        {
            var op = ReplicaOperation.Start(Type, ReplicaOperation.Delete);
            try
            {
                await _container.GetBlobClient(name).DeleteIfExistsAsync(DeleteSnapshotsOption.IncludeSnapshots, cancellationToken: token).ConfigureAwait(false);
                op.Succeeded();
            }
            catch (Exception e) when (IsStorageError(e, token) && !op.Failed(e, ErrorCode(e)))
            {
                throw Failure("delete", name, e);
            }
        }).ConfigureAwait(false);
    }

    private static BlobClientOptions NewOptions(AbsReplicaSettings settings, Action<SocketsHttpHandler>? configureHandler)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = settings.ConnectTimeout ?? DefaultConnectTimeout,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(60),
        };
        configureHandler?.Invoke(handler);
        var options = new BlobClientOptions
        {
            // The pipeline's own per-attempt timeout bounds the wait for headers and wraps every body read.
            Retry =
            {
                Mode = Azure.Core.RetryMode.Exponential,
                MaxRetries = settings.MaxRetries ?? DefaultMaxRetries,
                Delay = TimeSpan.FromMilliseconds(500),
                MaxDelay = TimeSpan.FromSeconds(10),
                NetworkTimeout = settings.RequestTimeout ?? DefaultRequestTimeout,
            },
            Transport = new HttpClientTransport(new HttpClient(handler)
            {
                Timeout = Timeout.InfiniteTimeSpan,
            }),
        };
        options.Diagnostics.IsLoggingEnabled = false;
        options.Diagnostics.IsDistributedTracingEnabled = false;
        options.Diagnostics.ApplicationId = "litestream";
        return options;
    }

    private string Location(string name) => $"{_endpoint}/{Container}/{name}";

    /// <summary>The storage's error code for the metrics: Azure's code, else the HTTP status; a timeout is "Timeout".</summary>
    private static string? ErrorCode(Exception e) => e switch
    {
        RequestFailedException { ErrorCode: { Length: > 0 } code } => code,
        RequestFailedException { Status: not 0 } failed => failed.Status.ToString(CultureInfo.InvariantCulture),
        OperationCanceledException => "Timeout",
        _ => null,
    };

    /// <summary>
    /// Storage failures, and the pipeline's own timeouts (a cancellation the caller did not ask for). Azure.Core
    /// reports exhausted retries of transport errors as an AggregateException; no token is an AbsTokenException.
    /// </summary>
    private static bool IsStorageError(Exception e, CancellationToken cancellationToken)
        => e is RequestFailedException or AggregateException or IOException or HttpRequestException or AbsTokenException
            || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested);

    /// <summary>One line naming the operation, the blob's URL (host, container, name) and the cause, with a hint; no credential.</summary>
    private ReplicaStorageException Failure(string operation, string name, Exception error)
    {
        Exception cause = error is AggregateException { InnerExceptions.Count: > 0 } all ? all.InnerExceptions[^1] : error;
        (string detail, string? hint) = cause switch
        {
            AbsTokenException t => (t.Message, t.Hint),
            RequestFailedException { Status: (int)HttpStatusCode.Forbidden or (int)HttpStatusCode.Unauthorized } r when _token is not null => (Detail(r),
                $"give {_token.Description} a data role on the container (Storage Blob Data Contributor): Azure refused its token"),
            RequestFailedException { Status: (int)HttpStatusCode.Forbidden or (int)HttpStatusCode.Unauthorized } r => (Detail(r),
                "check account-name and account-key or sas-token (LITESTREAM_AZURE_ACCOUNT_KEY, LITESTREAM_AZURE_SAS_TOKEN): Azure refused them"),
            RequestFailedException { ErrorCode: "ContainerNotFound" } r => (Detail(r),
                $"create the container \"{Container}\" in the storage account, or fix the container in the replica URL"),
            RequestFailedException { Status: > 0 } r => (Detail(r), null),
            OperationCanceledException => ($"no response within {GoDuration.Format(Settings.RequestTimeout ?? DefaultRequestTimeout)}",
                "check that the endpoint is reachable and answering"),
            _ => (FirstLine(cause.Message) + (cause.InnerException is { } inner ? ": " + FirstLine(inner.Message) : ""),
                "check the endpoint (account-name or endpoint) and the network"),
        };
        string message = Redaction.Apply($"abs: {operation} {Location(name)}: {detail}");
        string full = error.ToString();
        return new ReplicaStorageException(message, hint, Redaction.Apply(full) != full ? null : error);
    }

    private static string Detail(RequestFailedException e)
        => $"{(string.IsNullOrEmpty(e.ErrorCode) ? "error" : e.ErrorCode)} (HTTP {e.Status}): {FirstLine(e.Message)}";

    private static string FirstLine(string text)
    {
        int end = text.IndexOfAny(['\r', '\n']);
        return (end < 0 ? text : text[..end]).Trim();
    }

    private static string? NonEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    /// <summary>A blob's body; disposing it releases the response.</summary>
    private sealed class DownloadStream(BlobDownloadStreamingResult result) : ReadOnlyStream
    {
        public override long Length => result.Details.ContentLength;

        public override int Read(Span<byte> buffer) => result.Content.Read(buffer);

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => result.Content.ReadAsync(buffer, cancellationToken);

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                result.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
