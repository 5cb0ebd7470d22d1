using System.Globalization;
using System.Net;
using System.Runtime.CompilerServices;
using System.Text;
using System.Xml;
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
/// Our own client of the Blob service REST API over <see cref="HttpClient"/> (Put Blob, Put Block, Put Block List, Get
/// Blob, List Blobs, Copy Blob, Delete Blob; Shared Key signing in <see cref="AbsSharedKey"/>): the Azure SDK cost the
/// exe about 1.9 MB. Every request is bounded by the connect, response and idle limits (<see cref="StallTimeoutHandler"/>)
/// and retried as the other HTTP backends are (<see cref="HttpStorageTransport"/>).
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
    /// <summary>Default longest wait for response headers.</summary>
    public static readonly TimeSpan DefaultRequestTimeout = TimeSpan.FromSeconds(60);
    /// <summary>The Blob service REST API version every request asks for.</summary>
    internal const string ApiVersion = "2024-08-04";
    /// <summary>The Entra ID scope of Azure Storage.</summary>
    internal const string TokenScope = "https://storage.azure.com/.default";
    /// <summary>Uploads up to this size are one Put Blob; larger ones are staged in blocks of this size.</summary>
    public const int BlockSize = 4 * 1024 * 1024;
    /// <summary>Blocks uploaded at once.</summary>
    public const int UploadConcurrency = 4;
    /// <summary>Deletes in flight (Azure's multi-object delete is a multipart batch request; one DELETE a blob is simpler).</summary>
    public const int DeleteConcurrency = 16;

    private readonly HttpStorageTransport _transport;
    private readonly string _endpoint;
    /// <summary>The container's URL, e.g. <c>https://acct.blob.core.windows.net/box</c>.</summary>
    private readonly string _containerUrl;
    /// <summary>The SAS token's query (without '?') when a SAS authorizes requests; null otherwise.</summary>
    private readonly string? _sas;
    /// <summary>The account key's signer when it authorizes requests; null otherwise.</summary>
    private readonly AbsSharedKey? _sharedKey;
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
        _containerUrl = $"{_endpoint}/{Uri.EscapeDataString(Container)}";
        if (!Uri.TryCreate(_containerUrl, UriKind.Absolute, out Uri? containerUri) || containerUri.Scheme is not ("http" or "https"))
        {
            throw new ArgumentException($"abs endpoint must be an http(s) URL, got \"{ReplicaUrl.Redact(_endpoint)}\"");
        }
        Redaction.Register(sas?.TrimStart('?'));
        Redaction.Register(key);
        if (sas is not null)
        {
            _sas = sas.TrimStart('?');
        }
        else if (key is not null)
        {
            if (account is null)
            {
                throw new ArgumentException("abs account-key needs account-name (or AZURE_STORAGE_ACCOUNT)");
            }
            _sharedKey = new AbsSharedKey(account, key);
        }
        else
        {
            // Bearer tokens go only over TLS: say so now rather than at the first request.
            if (containerUri.Scheme != "https")
            {
                throw new ArgumentException($"abs: without account-key or sas-token the endpoint must be https (Entra ID tokens are not sent in clear), got \"{ReplicaUrl.Redact(_endpoint)}\"");
            }
            _token = AbsTokenCredential.Find(environment, settings.ConnectTimeout ?? DefaultConnectTimeout);
        }
        _transport = new HttpStorageTransport(Type, settings.ConnectTimeout, settings.RequestTimeout, settings.MaxRetries ?? DefaultMaxRetries,
            maxConnectionsPerServer: 32, configureHandler);
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
            await foreach (AbsBlob item in ListBlobsAsync(prefix, metadata: true, token).ConfigureAwait(false))
            {
                // Names are fixed-width hex, so the listing's name order is (MinTxid, MaxTxid) order.
                if (!LtxFileName.TryParse(item.Name.AsSpan(prefix.Length), out Txid min, out Txid max) || min < seek)
                {
                    continue;
                }
                DateTimeOffset created = item.Timestamp is { } stamp && ReplicaTimestamp.TryParse(stamp, out DateTimeOffset parsed)
                    ? parsed
                    : item.CreatedOn ?? item.LastModified ?? DateTimeOffset.UnixEpoch;
                yield return new LtxFileInfo(level, min, max, item.Size, created);
            }
        }
    }

    /// <summary>Every blob whose name starts with <paramref name="prefix"/>, in name order, one counted LIST request a page.</summary>
    private async IAsyncEnumerable<AbsBlob> ListBlobsAsync(string prefix, bool metadata, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        string? marker = null;
        do
        {
            string query = $"restype=container&comp=list&prefix={Uri.EscapeDataString(prefix)}&maxresults={ListPageSize.ToString(CultureInfo.InvariantCulture)}"
                + (metadata ? "&include=metadata" : "") + (marker is null ? "" : "&marker=" + Uri.EscapeDataString(marker));
            AbsBlobList page;
            using (HttpResponseMessage response = await SendAsync("list", prefix, ReplicaOperation.List,
                () => new HttpRequestMessage(HttpMethod.Get, Url(null, query)), cancellationToken).ConfigureAwait(false))
            {
                if (!response.IsSuccessStatusCode)
                {
                    throw await FailureAsync("list", prefix, response, cancellationToken).ConfigureAwait(false);
                }
                try
                {
                    Stream body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
                    await using (body.ConfigureAwait(false))
                    {
                        page = await AbsBlobList.ReadAsync(body, cancellationToken).ConfigureAwait(false);
                    }
                }
                catch (XmlException e)
                {
                    throw new ReplicaStorageException(Redaction.Apply($"abs: list {Location(prefix)}: unreadable answer: {FirstLine(e.Message)}"),
                        "check that the endpoint is Azure Blob Storage (account-name or endpoint)");
                }
                catch (Exception e) when (HttpStorageRetry.IsTransportError(e, cancellationToken))
                {
                    throw Failure("list", prefix, e);
                }
            }
            foreach (AbsBlob item in page.Blobs)
            {
                if (item.Name.StartsWith(prefix, StringComparison.Ordinal))
                {
                    yield return item;
                }
            }
            marker = page.NextMarker;
        }
        while (marker is not null);
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
        HttpResponseMessage response = await SendAsync("get", name, ReplicaOperation.Get, () =>
        {
            var request = new HttpRequestMessage(HttpMethod.Get, Url(name));
            HttpRangedRead.SetRange(request, offset, size);
            return request;
        }, cancellationToken).ConfigureAwait(false);
        try
        {
            if (HttpRangedRead.IsRangeAnswer(response.StatusCode))
            {
                return await HttpRangedRead.BodyAsync(response, offset, size, cancellationToken).ConfigureAwait(false);
            }
            if (response.StatusCode == HttpStatusCode.NotFound && ErrorCode(response) != "ContainerNotFound")
            {
                throw new ReplicaFileNotFoundException(Location(name));
            }
            throw await FailureAsync("get", name, response, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public async ValueTask<LtxFileInfo> WriteLtxFileAsync(int level, Txid minTxid, Txid maxTxid, Stream data, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(data);
        string name = LtxName(level, minTxid, maxTxid);
        (HeaderedStream body, DateTimeOffset createdAt) = await HeaderedStream.ReadLtxHeaderAsync(data, cancellationToken).ConfigureAwait(false);
        using var disposeBody = body;
        string stamp = ReplicaTimestamp.Format(createdAt);
        (byte[] first, int length) = await ReadBlockAsync(body, null, cancellationToken).ConfigureAwait(false);
        if (length < BlockSize)
        {
            // One Put Blob: the whole file is in memory, so a retry sends it again.
            using HttpResponseMessage response = await SendAsync("put", name, ReplicaOperation.Put, () =>
            {
                HttpRequestMessage request = PutBlob(name, new ReadOnlyMemoryContent(first.AsMemory(0, length)), "application/octet-stream");
                request.Headers.Add("x-ms-meta-" + TimestampMetadataKey, stamp);
                return request;
            }, cancellationToken, bytes: length).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw await FailureAsync("put", name, response, cancellationToken).ConfigureAwait(false);
            }
        }
        else
        {
            await PutBlocksAsync(name, stamp, body, first, cancellationToken).ConfigureAwait(false);
        }
        return new LtxFileInfo(level, minTxid, maxTxid, body.Count, createdAt);
    }

    /// <summary>
    /// A larger file: blocks of <see cref="BlockSize"/> read in turn, <see cref="UploadConcurrency"/> of them in flight,
    /// then one Put Block List that makes the blob (with its content type and metadata) appear whole.
    /// </summary>
    private async Task PutBlocksAsync(string name, string stamp, Stream body, byte[] first, CancellationToken cancellationToken)
    {
        var buffers = new byte[UploadConcurrency][];
        buffers[0] = first;
        var ids = new List<string>();
        bool more = true;
        while (more)
        {
            var uploads = new List<Task>(UploadConcurrency);
            for (int slot = 0; slot < UploadConcurrency && more; slot++)
            {
                int length;
                if (ids.Count == 0)
                {
                    length = first.Length;
                }
                else
                {
                    (buffers[slot], length) = await ReadBlockAsync(body, buffers[slot], cancellationToken).ConfigureAwait(false);
                }
                more = length == BlockSize;
                if (length == 0)
                {
                    break;
                }
                // Every id of a blob has the same length (Azure's rule): a fixed-width number.
                string id = Convert.ToBase64String(Encoding.ASCII.GetBytes(ids.Count.ToString("D8", CultureInfo.InvariantCulture)));
                ids.Add(id);
                ReadOnlyMemory<byte> block = buffers[slot].AsMemory(0, length);
                uploads.Add(PutBlockAsync(name, id, block, cancellationToken));
            }
            await Task.WhenAll(uploads).ConfigureAwait(false);
        }
        var list = new StringBuilder("<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
        foreach (string id in ids)
        {
            list.Append("<Latest>").Append(id).Append("</Latest>");
        }
        byte[] xml = Encoding.UTF8.GetBytes(list.Append("</BlockList>").ToString());
        using HttpResponseMessage response = await SendAsync("put", name, ReplicaOperation.Put, () =>
        {
            var content = new ByteArrayContent(xml);
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/xml");
            var request = new HttpRequestMessage(HttpMethod.Put, Url(name, "comp=blocklist")) { Content = content };
            request.Headers.Add("x-ms-blob-content-type", "application/octet-stream");
            request.Headers.Add("x-ms-meta-" + TimestampMetadataKey, stamp);
            return request;
        }, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw await FailureAsync("put", name, response, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task PutBlockAsync(string name, string id, ReadOnlyMemory<byte> block, CancellationToken cancellationToken)
    {
        using HttpResponseMessage response = await SendAsync("put", name, ReplicaOperation.Put,
            () => new HttpRequestMessage(HttpMethod.Put, Url(name, "comp=block&blockid=" + Uri.EscapeDataString(id))) { Content = new ReadOnlyMemoryContent(block) },
            cancellationToken, bytes: block.Length).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw await FailureAsync("put", name, response, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Reads up to <see cref="BlockSize"/> bytes into <paramref name="buffer"/>, which grows as bytes come (a small file
    /// costs its size, not a block's); returns the buffer and the bytes read (fewer: the source ended).
    /// </summary>
    private static async Task<(byte[] Buffer, int Length)> ReadBlockAsync(Stream source, byte[]? buffer, CancellationToken cancellationToken)
    {
        buffer ??= new byte[64 * 1024];
        int length = 0;
        while (length < BlockSize)
        {
            if (length == buffer.Length)
            {
                Array.Resize(ref buffer, Math.Min(BlockSize, buffer.Length * 4));
            }
            int n = await source.ReadAsync(buffer.AsMemory(length), cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                break;
            }
            length += n;
        }
        return (buffer, length);
    }

    /// <summary>
    /// Azure's Copy Blob within the account (authorized by this client's own credential): no byte passes through this
    /// machine, and the copy keeps the source's metadata, so the header timestamp comes along. Within one account a
    /// copy is done at once; a pending one is polled every 200 ms, each poll bounded like any request.
    /// </summary>
    public async ValueTask<LtxFileInfo?> CopyLtxFileAsync(LtxFileInfo source, int level, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        string from = LtxName(source.Level, source.MinTxid, source.MaxTxid);
        string name = LtxName(level, source.MinTxid, source.MaxTxid);
        string? status;
        using (HttpResponseMessage response = await SendAsync("copy", name, ReplicaOperation.Put, () =>
        {
            var request = new HttpRequestMessage(HttpMethod.Put, Url(name));
            request.Headers.Add("x-ms-copy-source", Url(from));
            return request;
        }, cancellationToken).ConfigureAwait(false))
        {
            if (!response.IsSuccessStatusCode)
            {
                throw await FailureAsync("copy", name, response, cancellationToken).ConfigureAwait(false);
            }
            status = Header(response, "x-ms-copy-status");
        }
        while (status == "pending")
        {
            await Task.Delay(TimeSpan.FromMilliseconds(200), cancellationToken).ConfigureAwait(false);
            using HttpResponseMessage poll = await SendAsync("copy", name, ReplicaOperation.Get,
                () => new HttpRequestMessage(HttpMethod.Head, Url(name)), cancellationToken).ConfigureAwait(false);
            if (!poll.IsSuccessStatusCode)
            {
                throw await FailureAsync("copy", name, poll, cancellationToken).ConfigureAwait(false);
            }
            status = Header(poll, "x-ms-copy-status");
        }
        if (status is not (null or "success"))
        {
            throw new ReplicaStorageException(Redaction.Apply($"abs: copy {Location(name)}: the copy ended {status}"), null);
        }
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
        await foreach (AbsBlob item in ListBlobsAsync(prefix, metadata: false, cancellationToken).ConfigureAwait(false))
        {
            names.Add(item.Name);
        }
        await DeleteAsync(names, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _transport.Http.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>The replica as a URL, e.g. <c>abs://container/db</c> (never with credentials).</summary>
    public override string ToString() => $"abs://{Container}/{Path}";

    private async ValueTask DeleteAsync(List<string> names, CancellationToken cancellationToken)
    {
        var options = new ParallelOptions { MaxDegreeOfParallelism = DeleteConcurrency, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(names, options, async (name, token) =>
        {
            using HttpResponseMessage response = await SendAsync("delete", name, ReplicaOperation.Delete, () =>
            {
                var request = new HttpRequestMessage(HttpMethod.Delete, Url(name));
                request.Headers.Add("x-ms-delete-snapshots", "include");
                return request;
            }, token).ConfigureAwait(false);
            // Gone already is fine: deletes are idempotent.
            if (!response.IsSuccessStatusCode && ErrorCode(response) != "BlobNotFound")
            {
                throw await FailureAsync("delete", name, response, token).ConfigureAwait(false);
            }
        }).ConfigureAwait(false);
    }

    /// <summary>A Put Blob of a block blob with <paramref name="content"/>.</summary>
    private HttpRequestMessage PutBlob(string name, HttpContent content, string contentType)
    {
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(contentType);
        var request = new HttpRequestMessage(HttpMethod.Put, Url(name)) { Content = content };
        request.Headers.Add("x-ms-blob-type", "BlockBlob");
        return request;
    }

    /// <summary>The URL of a blob (or, with a null name, of the container) with <paramref name="query"/> and the SAS token.</summary>
    private string Url(string? name, string query = "")
    {
        string url = name is null ? _containerUrl : $"{_containerUrl}/{string.Join('/', name.Split('/').Select(Uri.EscapeDataString))}";
        string all = _sas is null ? query : query.Length == 0 ? _sas : $"{query}&{_sas}";
        return all.Length == 0 ? url : $"{url}?{all}";
    }

    /// <summary>
    /// Sends one request (made anew for each attempt, dated and authorized before each) and returns its response,
    /// whatever its status. A failure in transit or a 408/429/5xx is tried again up to MaxRetries times with a growing
    /// pause; a refused connection, an unknown host or a stall is not. No token is an error naming the identity.
    /// </summary>
    private async Task<HttpResponseMessage> SendAsync(string operation, string name, string metric, Func<HttpRequestMessage> make,
        CancellationToken cancellationToken, long bytes = 0)
    {
        try
        {
            return await _transport.SendAsync(metric, make, e => Failure(operation, name, e), (status, attempt)
                => attempt < _transport.MaxRetries && (status is 408 or 429 || status >= 500)
                    ? HttpStorageTransport.StatusAction.RetryAfterPause
                    : HttpStorageTransport.StatusAction.Return,
                cancellationToken, bytes: bytes, authorize: AuthorizeAsync).ConfigureAwait(false);
        }
        catch (AbsTokenException e)
        {
            throw Failure(operation, name, e);
        }
    }

    private async ValueTask AuthorizeAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        request.Headers.Add("x-ms-version", ApiVersion);
        request.Headers.Add("x-ms-date", DateTimeOffset.UtcNow.ToString("r", CultureInfo.InvariantCulture));
        if (_sharedKey is not null)
        {
            _sharedKey.Sign(request);
        }
        else if (_token is not null)
        {
            AbsTokenCredential.AccessToken token = await _token.GetTokenAsync(TokenScope, cancellationToken).ConfigureAwait(false);
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token.Token);
        }
    }

    private string Location(string name) => $"{_endpoint}/{Container}/{name}";

    private static string? Header(HttpResponseMessage response, string name)
        => response.Headers.TryGetValues(name, out IEnumerable<string>? values) ? values.FirstOrDefault() : null;

    /// <summary>Azure's error code (<c>x-ms-error-code</c>, also on answers without a body); null when absent.</summary>
    private static string? ErrorCode(HttpResponseMessage response) => Header(response, "x-ms-error-code");

    /// <summary>One line naming the operation, the blob's URL (host, container, name) and Azure's answer, with a hint; no credential.</summary>
    private async ValueTask<ReplicaStorageException> FailureAsync(string operation, string name, HttpResponseMessage response, CancellationToken cancellationToken)
    {
        int status = (int)response.StatusCode;
        string? code = ErrorCode(response);
        string message = await ErrorMessageAsync(response, cancellationToken).ConfigureAwait(false) ?? response.ReasonPhrase ?? "";
        string detail = $"{code ?? "error"} (HTTP {status.ToString(CultureInfo.InvariantCulture)}): {FirstLine(message)}";
        string? hint = status switch
        {
            401 or 403 when _token is not null => $"give {_token.Description} a data role on the container (Storage Blob Data Contributor): Azure refused its token",
            401 or 403 => "check account-name and account-key or sas-token (LITESTREAM_AZURE_ACCOUNT_KEY, LITESTREAM_AZURE_SAS_TOKEN): Azure refused them",
            _ when code == "ContainerNotFound" => $"create the container \"{Container}\" in the storage account, or fix the container in the replica URL",
            _ => null,
        };
        return new ReplicaStorageException(Redaction.Apply($"abs: {operation} {Location(name)}: {detail}"), hint);
    }

    /// <summary>The <c>Message</c> of Azure's XML error body (its first 8 KiB); null without one.</summary>
    private static async ValueTask<string?> ErrorMessageAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            Stream body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            byte[] buffer = new byte[8 * 1024];
            int n = await body.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            using XmlReader reader = XmlReader.Create(new MemoryStream(buffer, 0, n), new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null });
            return reader.ReadToFollowing("Message") ? reader.ReadElementContentAsString() : null;
        }
        catch (Exception e) when (e is XmlException or HttpRequestException or IOException or StallException)
        {
            return null;
        }
    }

    /// <summary>The same for a failure that got no answer: no token, unreachable, refused, stalled, cut off.</summary>
    private ReplicaStorageException Failure(string operation, string name, Exception error)
    {
        if (error is ReplicaStorageException storage)
        {
            return storage;
        }
        (string detail, string hint) = error switch
        {
            AbsTokenException t => (t.Message, t.Hint),
            StallException e => (e.Message, "check that the endpoint is reachable and answering (or raise LITESTREAM_STORAGE_*_TIMEOUT)"),
            OperationCanceledException => ($"no response within {GoDuration.Format(_transport.Timeouts.Response)}", "check that the endpoint is reachable and answering"),
            _ => (FirstLine(error.Message) + (error.InnerException is { } inner ? ": " + FirstLine(inner.Message) : ""),
                "check the endpoint (account-name or endpoint) and the network"),
        };
        string message = Redaction.Apply($"abs: {operation} {Location(name)}: {detail}");
        string full = error.ToString();
        return new ReplicaStorageException(message, hint, Redaction.Apply(full) != full ? null : error);
    }

    private static string FirstLine(string text)
    {
        int end = text.IndexOfAny(['\r', '\n']);
        return (end < 0 ? text : text[..end]).Trim();
    }

    private static string? NonEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
