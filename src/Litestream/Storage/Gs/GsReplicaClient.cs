using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Litestream.Internal;
using Litestream.Ltx;

namespace Litestream.Storage.Gs;

/// <summary>
/// A replica in a Google Cloud Storage bucket (upstream <c>gs.ReplicaClient</c>), over <see cref="HttpClient"/> and
/// the GCS JSON API (no Google SDK: it would bring Newtonsoft and reflection into the trimmed exe). Objects at
/// <c>&lt;path&gt;/ltx/&lt;level&gt;/&lt;min&gt;-&lt;max&gt;.ltx</c> carry the LTX header time as metadata
/// <c>litestream-timestamp</c> (upstream's), which listings return at no extra cost. An upload is one multipart
/// request (metadata and bytes; GCS writes objects atomically), or above 16 MiB a resumable upload in chunks; a read is a ranged <c>alt=media</c> GET; a copy to
/// another level is a server-side rewrite. Credentials: <see cref="GsCredentials"/>; <c>STORAGE_EMULATOR_HOST</c>
/// points every request at an emulator without credentials, as Google's SDKs do. Every request is bounded by the
/// connect, response and idle limits (<see cref="StallTimeoutHandler"/>).
/// </summary>
[ReplicaBackend("gs")]
public sealed partial class GsReplicaClient : IReplicaClient
{
    /// <summary>Object metadata key of the LTX creation time (upstream's).</summary>
    public const string TimestampMetadataKey = "litestream-timestamp";
    /// <summary>Default retries of a request that failed in transit or got 429/5xx.</summary>
    public const int DefaultMaxRetries = 3;
    /// <summary>Deletes in flight at once (the JSON API deletes one object a request).</summary>
    public const int DeleteConcurrency = 16;
    /// <summary>The public endpoint.</summary>
    public const string DefaultEndpoint = "https://storage.googleapis.com";

    private readonly HttpStorageTransport _transport;
    private readonly GsCredentials _credentials;

    /// <summary>Creates a client; nothing is sent until the first operation.</summary>
    /// <exception cref="ArgumentException">No bucket, or a credentials file that cannot be used.</exception>
    public GsReplicaClient(GsReplicaSettings settings)
        : this(settings, Environment.GetEnvironmentVariable("STORAGE_EMULATOR_HOST"), credentials: null)
    {
    }

    /// <summary>
    /// Creates a client on <paramref name="emulator"/> (STORAGE_EMULATOR_HOST's form) when set, without credentials;
    /// else on Google Cloud Storage with <paramref name="credentials"/>, or the Application Default Credentials.
    /// </summary>
    internal GsReplicaClient(GsReplicaSettings settings, string? emulator, GsCredentials? credentials)
    {
        ArgumentNullException.ThrowIfNull(settings);
        Settings = settings;
        Bucket = string.IsNullOrEmpty(settings.Bucket) ? throw new ArgumentException("gs replica requires a bucket (gs://bucket/path)") : settings.Bucket;
        string? path = settings.Path?.Trim('/');
        Path = path is null or "." ? "" : path;
        if (!string.IsNullOrEmpty(emulator))
        {
            string endpoint = emulator.Contains("://", StringComparison.Ordinal) ? emulator : "http://" + emulator;
            if (!Uri.TryCreate(endpoint, UriKind.Absolute, out Uri? uri) || uri.Scheme is not ("http" or "https"))
            {
                throw new ArgumentException($"STORAGE_EMULATOR_HOST \"{emulator}\" is not host:port or an http(s) URL");
            }
            Endpoint = endpoint.TrimEnd('/');
            _credentials = GsCredentials.None;
        }
        else
        {
            Endpoint = string.IsNullOrEmpty(settings.Endpoint) ? DefaultEndpoint : settings.Endpoint.TrimEnd('/');
            _credentials = credentials ?? GsCredentials.Find(Environment.GetEnvironmentVariable);
        }
        _transport = new HttpStorageTransport("gs", settings.ConnectTimeout, settings.RequestTimeout, settings.MaxRetries ?? DefaultMaxRetries, maxConnectionsPerServer: 32);
    }

    /// <summary>Creates the client from settings (used by <see cref="ReplicaClientFactory"/>).</summary>
    /// <remarks>With HMAC keys in the settings, a <see cref="GsHmacReplicaClient"/> (the XML API).</remarks>
    public static IReplicaClient Create(GsReplicaSettings settings)
        => GsHmacReplicaClient.UsesHmac(settings) ? new GsHmacReplicaClient(settings) : new GsReplicaClient(settings);

    /// <summary>The settings this client was made with.</summary>
    public GsReplicaSettings Settings { get; }

    /// <inheritdoc />
    public string Type => "gs";

    /// <summary>The bucket.</summary>
    public string Bucket { get; }

    /// <summary>The object name prefix every file of this replica lives under ("" for the bucket's root).</summary>
    public string Path { get; }

    /// <summary>Where requests go: <see cref="DefaultEndpoint"/>, or the emulator.</summary>
    public string Endpoint { get; }

    /// <summary>Objects per list page; lowered only by tests that prove paging cheaply.</summary>
    internal int ListPageSize { get; set; } = 1000;

    /// <summary>Object name prefix of one level, e.g. <c>db/ltx/9/</c>.</summary>
    public string LevelPrefix(int level) => $"{(Path.Length == 0 ? "" : Path + "/")}ltx/{level.ToString(CultureInfo.InvariantCulture)}/";

    /// <summary>Object name of one LTX file.</summary>
    public string LtxName(int level, Txid minTxid, Txid maxTxid) => LevelPrefix(level) + LtxFileName.Format(minTxid, maxTxid);

    /// <summary>The object as a URL for messages, e.g. <c>gs://bucket/db/ltx/0/…ltx</c>.</summary>
    public string Location(string name) => $"gs://{Bucket}/{name}";

    /// <inheritdoc />
    public ValueTask InitAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <inheritdoc />
    public IAsyncEnumerable<LtxFileInfo> ListLtxFilesAsync(int level, Txid seek, bool useMetadata, CancellationToken cancellationToken)
    {
        return List(cancellationToken);

        // Listings carry the metadata, so the header timestamp costs nothing whatever useMetadata says (as upstream).
        async IAsyncEnumerable<LtxFileInfo> List([EnumeratorCancellation] CancellationToken token)
        {
            string prefix = LevelPrefix(level);
            await foreach (GsObject item in ListObjectsAsync(prefix, token).ConfigureAwait(false))
            {
                // Names are fixed-width hex, so the listing's name order is (MinTxid, MaxTxid) order.
                if (item.Name is not { } name || !name.StartsWith(prefix, StringComparison.Ordinal)
                    || !LtxFileName.TryParse(name.AsSpan(prefix.Length), out Txid min, out Txid max) || min < seek)
                {
                    continue;
                }
                DateTimeOffset created = item.Metadata is { } metadata && metadata.TryGetValue(TimestampMetadataKey, out string? stamp)
                    && ReplicaTimestamp.TryParse(stamp, out DateTimeOffset parsed) ? parsed
                    : ReplicaTimestamp.TryParse(item.TimeCreated, out DateTimeOffset createdAt) ? createdAt : DateTimeOffset.UnixEpoch;
                yield return new LtxFileInfo(level, min, max, ParseLong(item.Size), created);
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask<Stream> OpenLtxFileAsync(int level, Txid minTxid, Txid maxTxid, long offset, long size, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        string name = LtxName(level, minTxid, maxTxid);
        HttpResponseMessage response = await SendAsync("get", name, ReplicaOperation.Get, () =>
        {
            var request = new HttpRequestMessage(HttpMethod.Get, ObjectUri(name) + "?alt=media");
            HttpRangedRead.SetRange(request, offset, size);
            return request;
        }, cancellationToken).ConfigureAwait(false);
        try
        {
            if (HttpRangedRead.IsRangeAnswer(response.StatusCode))
            {
                return await HttpRangedRead.BodyAsync(response, offset, size, cancellationToken).ConfigureAwait(false);
            }
            if (response.StatusCode == HttpStatusCode.NotFound && !await IsMissingBucketAsync(response, cancellationToken).ConfigureAwait(false))
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
        string name = LtxName(level, minTxid, maxTxid);
        // Staged first when it cannot seek, so a retry can send it again.
        SizedLtxUpload upload = await SizedLtxUpload.PrepareAsync("gs", data, cancellationToken).ConfigureAwait(false);
        await using (upload.ConfigureAwait(false))
        {
            byte[] metadata = JsonSerializer.SerializeToUtf8Bytes(new GsUploadMetadata
            {
                Name = name,
                ContentType = "application/octet-stream",
                Metadata = new Dictionary<string, string> { [TimestampMetadataKey] = ReplicaTimestamp.Format(upload.CreatedAt) },
            }, GsJsonContext.Default.GsUploadMetadata);
            if (upload.Length > ResumableChunkSize)
            {
                await UploadResumableAsync(name, metadata, upload, cancellationToken).ConfigureAwait(false);
                return new LtxFileInfo(level, minTxid, maxTxid, upload.Length, upload.CreatedAt);
            }
            using HttpResponseMessage response = await SendAsync("put", name, ReplicaOperation.Put,
                () => Upload(name, metadata, upload.Content(), ifGenerationMatch: null), cancellationToken, bytes: upload.Length).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw await FailureAsync("put", name, response, cancellationToken).ConfigureAwait(false);
            }
            return new LtxFileInfo(level, minTxid, maxTxid, upload.Length, upload.CreatedAt);
        }
    }

    /// <summary>
    /// A server-side rewrite of the object to the other level's name (its metadata, so its timestamp, comes along);
    /// null from a server that has no rewrite (501).
    /// </summary>
    public async ValueTask<LtxFileInfo?> CopyLtxFileAsync(LtxFileInfo source, int level, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        string from = LtxName(source.Level, source.MinTxid, source.MaxTxid);
        string to = LtxName(level, source.MinTxid, source.MaxTxid);
        string? token = null;
        while (true)
        {
            string uri = $"{ObjectUri(from)}/rewriteTo/b/{Uri.EscapeDataString(Bucket)}/o/{Uri.EscapeDataString(to)}"
                + (token is null ? "" : "?rewriteToken=" + Uri.EscapeDataString(token));
            using HttpResponseMessage response = await SendAsync("copy", to, ReplicaOperation.Put, () => new HttpRequestMessage(HttpMethod.Post, uri), cancellationToken).ConfigureAwait(false);
            if (response.StatusCode == HttpStatusCode.NotFound && !await IsMissingBucketAsync(response, cancellationToken).ConfigureAwait(false))
            {
                throw new ReplicaFileNotFoundException(Location(from));
            }
            if (response.StatusCode == HttpStatusCode.NotImplemented)
            {
                // An emulator without rewrite (firebase-tools'): the caller downloads and uploads.
                return null;
            }
            GsRewrite rewrite = await ReadJsonAsync("copy", to, response, GsJsonContext.Default.GsRewrite, cancellationToken).ConfigureAwait(false);
            if (rewrite.Done)
            {
                return source with { Level = level };
            }
            token = rewrite.RewriteToken ?? throw new ReplicaStorageException($"gs: copy {Location(to)}: the rewrite is not done and gave no token to go on with", null);
        }
    }

    /// <inheritdoc />
    public async ValueTask DeleteLtxFilesAsync(IReadOnlyList<LtxFileInfo> files, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(files);
        await DeleteAsync(files.Select(file => LtxName(file.Level, file.MinTxid, file.MaxTxid)), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask DeleteAllAsync(CancellationToken cancellationToken)
    {
        // Only this replica's objects: its path, or the ltx/ tree when it sits at the bucket's root.
        string prefix = Path.Length == 0 ? "ltx/" : Path + "/";
        var names = new List<string>();
        await foreach (GsObject item in ListObjectsAsync(prefix, cancellationToken).ConfigureAwait(false))
        {
            if (item.Name is { } name)
            {
                names.Add(name);
            }
        }
        await DeleteAsync(names, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _transport.Http.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>The replica as a URL, e.g. <c>gs://bucket/db</c>.</summary>
    public override string ToString() => $"gs://{Bucket}/{Path}";

    private async IAsyncEnumerable<GsObject> ListObjectsAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        string? pageToken = null;
        do
        {
            string uri = $"{BucketUri()}/o?prefix={Uri.EscapeDataString(prefix)}&maxResults={ListPageSize.ToString(CultureInfo.InvariantCulture)}"
                + (pageToken is null ? "" : "&pageToken=" + Uri.EscapeDataString(pageToken));
            GsObjectList page;
            using (HttpResponseMessage response = await SendAsync("list", prefix, ReplicaOperation.List, () => new HttpRequestMessage(HttpMethod.Get, uri), cancellationToken).ConfigureAwait(false))
            {
                page = await ReadJsonAsync("list", prefix, response, GsJsonContext.Default.GsObjectList, cancellationToken).ConfigureAwait(false);
            }
            foreach (GsObject item in page.Items ?? [])
            {
                yield return item;
            }
            pageToken = string.IsNullOrEmpty(page.NextPageToken) ? null : page.NextPageToken;
        }
        while (pageToken is not null);
    }

    private async ValueTask DeleteAsync(IEnumerable<string> names, CancellationToken cancellationToken)
    {
        var options = new ParallelOptions { MaxDegreeOfParallelism = DeleteConcurrency, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(names, options, async (name, token) =>
        {
            using HttpResponseMessage response = await SendAsync("delete", name, ReplicaOperation.Delete,
                () => new HttpRequestMessage(HttpMethod.Delete, ObjectUri(name)), token).ConfigureAwait(false);
            // Gone already is fine: deletes are idempotent.
            if (!response.IsSuccessStatusCode && !(response.StatusCode == HttpStatusCode.NotFound && !await IsMissingBucketAsync(response, token).ConfigureAwait(false)))
            {
                throw await FailureAsync("delete", name, response, token).ConfigureAwait(false);
            }
        }).ConfigureAwait(false);
    }

    /// <summary>A multipart upload (RFC 2387 multipart/related: the object's JSON resource, then its bytes).</summary>
    private HttpRequestMessage Upload(string name, byte[] metadata, HttpContent media, string? ifGenerationMatch)
    {
        var body = new MultipartContent("related", "litestream-" + Guid.NewGuid().ToString("N"));
        var json = new ByteArrayContent(metadata);
        json.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "UTF-8" };
        body.Add(json);
        body.Add(media);
        string uri = $"{Endpoint}/upload/storage/v1/b/{Uri.EscapeDataString(Bucket)}/o?uploadType=multipart"
            + (ifGenerationMatch is null ? "" : "&ifGenerationMatch=" + ifGenerationMatch);
        return new HttpRequestMessage(HttpMethod.Post, uri) { Content = body };
    }

    private string BucketUri() => $"{Endpoint}/storage/v1/b/{Uri.EscapeDataString(Bucket)}";

    private string ObjectUri(string name) => $"{BucketUri()}/o/{Uri.EscapeDataString(name)}";

    private async Task<T> ReadJsonAsync<T>(string operation, string name, HttpResponseMessage response, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, CancellationToken cancellationToken)
    {
        if (!response.IsSuccessStatusCode)
        {
            throw await FailureAsync(operation, name, response, cancellationToken).ConfigureAwait(false);
        }
        try
        {
            Stream body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await using (body.ConfigureAwait(false))
            {
                return await JsonSerializer.DeserializeAsync(body, type, cancellationToken).ConfigureAwait(false)
                    ?? throw new JsonException("null");
            }
        }
        catch (JsonException e)
        {
            throw new ReplicaStorageException($"gs: {operation} {Location(name)}: unreadable answer from {Endpoint}: {e.Message}", "check that the endpoint is Google Cloud Storage (or STORAGE_EMULATOR_HOST a GCS emulator)");
        }
        catch (Exception e) when (HttpStorageRetry.IsTransportError(e, cancellationToken))
        {
            throw Failure(operation, name, e);
        }
    }

    /// <summary>
    /// Sends one request (made anew for each attempt) and returns its response, whatever its status. A failure in
    /// transit or a 429/5xx is tried again up to MaxRetries times with a growing pause; a 401 once with a new token;
    /// a refused connection, an unknown host or a stall is not (each would only add its wait again).
    /// </summary>
    private Task<HttpResponseMessage> SendAsync(string operation, string name, string metric, Func<HttpRequestMessage> make,
        CancellationToken cancellationToken, long bytes = 0)
    {
        bool reauthorized = false;
        return _transport.SendAsync(metric, make, e => Failure(operation, name, e), (status, attempt) =>
        {
            if (status == 401 && !reauthorized && !_credentials.IsNone)
            {
                reauthorized = true;
                _credentials.Invalidate();
                return HttpStorageTransport.StatusAction.RetryNow;
            }
            return attempt < _transport.MaxRetries && (status is 408 or 429 || status >= 500)
                ? HttpStorageTransport.StatusAction.RetryAfterPause
                : HttpStorageTransport.StatusAction.Return;
        }, cancellationToken, bytes: bytes, authorize: async (request, token) =>
            request.Headers.Authorization = await _credentials.GetAuthorizationAsync(_transport.Http, token).ConfigureAwait(false));
    }

    /// <summary>A 404 about the bucket rather than the object (GCS says "The specified bucket does not exist.").</summary>
    private static async ValueTask<bool> IsMissingBucketAsync(HttpResponseMessage response, CancellationToken cancellationToken)
        => (await ErrorMessageAsync(response, cancellationToken).ConfigureAwait(false))?.Contains("bucket does not exist", StringComparison.OrdinalIgnoreCase) == true;

    /// <summary>The JSON API's error message, read once (at most 8 KiB) and kept on the response.</summary>
    private static async ValueTask<string?> ErrorMessageAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.RequestMessage?.Options.TryGetValue(s_errorMessage, out string? kept) == true)
        {
            return kept;
        }
        string? message = null;
        try
        {
            Stream body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            byte[] buffer = new byte[8 * 1024];
            int n = await body.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            try
            {
                message = JsonSerializer.Deserialize(buffer.AsSpan(0, n), GsJsonContext.Default.GsErrorBody)?.Error?.Message;
            }
            catch (JsonException)
            {
                message = FirstLine(Encoding.UTF8.GetString(buffer, 0, Math.Min(n, 200)));
            }
        }
        catch (Exception e) when (e is HttpRequestException or IOException or StallException)
        {
            // no body to explain it
        }
        response.RequestMessage?.Options.Set(s_errorMessage, message);
        return message;
    }

    private static readonly HttpRequestOptionsKey<string?> s_errorMessage = new("litestream.gs.error");

    /// <summary>One line naming the operation, the object and the server's answer, with a hint; no credential.</summary>
    private async ValueTask<ReplicaStorageException> FailureAsync(string operation, string name, HttpResponseMessage response, CancellationToken cancellationToken)
    {
        int status = (int)response.StatusCode;
        string? message = await ErrorMessageAsync(response, cancellationToken).ConfigureAwait(false);
        string detail = $"HTTP {status.ToString(CultureInfo.InvariantCulture)}{(string.IsNullOrEmpty(message) ? " " + response.ReasonPhrase : ": " + FirstLine(message))}";
        string? hint = status switch
        {
            401 => $"check the credentials: {_credentials.Description} were refused",
            403 => $"grant {_credentials.Description} a role that may {operation} objects in bucket \"{Bucket}\" (roles/storage.objectAdmin)",
            404 => $"create the bucket \"{Bucket}\", or fix the bucket in the replica URL",
            412 => null,
            >= 500 => "Google Cloud Storage is failing: try again later",
            _ => null,
        };
        return new ReplicaStorageException(Redaction.Apply($"gs: {operation} {Location(name)}: {detail}"), hint);
    }

    /// <summary>The same for a failure that got no answer: unreachable, refused, stalled, cut off.</summary>
    private ReplicaStorageException Failure(string operation, string name, Exception error)
    {
        if (error is ReplicaStorageException storage)
        {
            return storage;
        }
        (string detail, string hint) = error switch
        {
            StallException e => (e.Message, "check that the endpoint is reachable and answering (or raise LITESTREAM_STORAGE_*_TIMEOUT)"),
            HttpRequestException { HttpRequestError: HttpRequestError.NameResolutionError } => ($"unknown host ({Endpoint})", "check the network's DNS (or STORAGE_EMULATOR_HOST)"),
            HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError } e => ($"cannot connect to {Endpoint}: {FirstLine(e.InnerException?.Message ?? e.Message)}",
                "check the network (or STORAGE_EMULATOR_HOST)"),
            OperationCanceledException => ($"no answer within {GoDuration.Format(_transport.Timeouts.Response)}", "check that the endpoint is reachable and answering"),
            _ => (FirstLine(error.Message) + (error.InnerException is { } inner ? ": " + FirstLine(inner.Message) : ""), "check the network"),
        };
        string text = Redaction.Apply($"gs: {operation} {Location(name)}: {detail}");
        string full = error.ToString();
        return new ReplicaStorageException(text, hint, Redaction.Apply(full) != full ? null : error);
    }

    private static long ParseLong(string? text) => long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long value) ? value : 0;

    private static string FirstLine(string text)
    {
        int end = text.IndexOfAny(['\r', '\n']);
        return (end < 0 ? text : text[..end]).Trim();
    }
}
