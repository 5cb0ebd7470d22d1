using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text;
using System.Xml;
using Litestream.Internal;
using Litestream.Ltx;

namespace Litestream.Storage.WebDav;

/// <summary>
/// A replica in a collection on a WebDAV server (upstream <c>webdav.ReplicaClient</c>), over <see cref="HttpClient"/>:
/// files at <c>&lt;path&gt;/ltx/&lt;level&gt;/&lt;min&gt;-&lt;max&gt;.ltx</c>. A listing is one PROPFIND (Depth 1) of a
/// level; a read is a ranged GET; an upload is a PUT with a Content-Length to a temporary name in the same
/// collection, then a MOVE over the final name, so readers never see a partial file (a server may write a PUT in
/// place). Missing collections are made with MKCOL. WebDAV keeps no metadata a PUT can set portably, so a
/// listing carries the server's write time; with metadata each header is read. Every request is bounded by the
/// connect, response and idle limits (<see cref="StallTimeoutHandler"/>).
/// </summary>
[ReplicaBackend("webdav")]
[ReplicaBackend("webdavs")]
public sealed class WebDavReplicaClient : IReplicaClient
{
    /// <summary>Default retries of a request that failed in transit or got 502/503/504.</summary>
    public const int DefaultMaxRetries = 3;
    /// <summary>Deletes (and header reads of a listing with metadata) in flight at once.</summary>
    public const int RequestConcurrency = 8;

    private static readonly HttpMethod s_propfind = new("PROPFIND");
    private static readonly HttpMethod s_mkcol = new("MKCOL");
    private static readonly HttpMethod s_move = new("MOVE");
    private static readonly HttpMethod s_copy = new("COPY");

    private readonly HttpStorageTransport _transport;
    // Collections known to exist, so most uploads skip the MKCOL round trips.
    private readonly ConcurrentDictionary<string, bool> _madeCollections = new(StringComparer.Ordinal);
    // One MKCOL chain at a time: concurrent uploads into a new level would race to make it (rclone answers 423).
    private readonly SemaphoreSlim _mkcolLock = new(1, 1);
    private int _initialized;

    /// <summary>Creates a client; nothing is sent until the first operation.</summary>
    /// <exception cref="ArgumentException">No webdav-url, or one that is not an absolute http(s) URL.</exception>
    public WebDavReplicaClient(WebDavReplicaSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        Settings = settings;
        string url = NonEmpty(settings.WebDavUrl) ?? throw new ArgumentException("webdav replica requires webdav-url (or a webdav:// or webdavs:// url)");
        if (!Uri.TryCreate(url, UriKind.Absolute, out Uri? server) || server.Scheme is not ("http" or "https") || server.Host.Length == 0)
        {
            throw new ArgumentException($"webdav-url \"{Redaction.Apply(url)}\" is not an http:// or https:// URL");
        }
        // A user and password written into webdav-url count as webdav-username and webdav-password.
        string? user = NonEmpty(settings.WebDavUsername);
        string? password = NonEmpty(settings.WebDavPassword);
        if (server.UserInfo.Length > 0)
        {
            string[] parts = server.UserInfo.Split(':', 2);
            user ??= NonEmpty(Uri.UnescapeDataString(parts[0]));
            password ??= parts.Length > 1 ? NonEmpty(Uri.UnescapeDataString(parts[1])) : null;
        }
        Redaction.Register(password);
        User = user;
        Server = $"{server.Scheme}://{server.Authority}{server.AbsolutePath.TrimEnd('/')}";
        Path = (settings.Path ?? "").Trim('/');
        _transport = new HttpStorageTransport("webdav", settings.ConnectTimeout, settings.RequestTimeout, settings.MaxRetries ?? DefaultMaxRetries, maxConnectionsPerServer: 16,
            sockets =>
            {
                if (user is not null)
                {
                    // Basic or Digest, as the server's challenge asks; Basic is then sent up front.
                    sockets.Credentials = new NetworkCredential(user, password ?? "");
                    sockets.PreAuthenticate = true;
                }
            });
    }

    /// <summary>Creates the client from settings (used by <see cref="ReplicaClientFactory"/>).</summary>
    public static IReplicaClient Create(WebDavReplicaSettings settings) => new WebDavReplicaClient(settings);

    /// <summary>The settings this client was made with (ToString prints no credential).</summary>
    public WebDavReplicaSettings Settings { get; }

    /// <inheritdoc />
    public string Type => "webdav";

    /// <summary>The server's URL without user info or a trailing '/', e.g. <c>http://127.0.0.1:8080</c> or <c>https://h/dav</c>.</summary>
    public string Server { get; }

    /// <summary>The user logged in as, or null.</summary>
    public string? User { get; }

    /// <summary>The replica's collection under <see cref="Server"/>, without leading or trailing '/' ("" for the root).</summary>
    public string Path { get; }

    /// <summary>Collection of one level, relative to <see cref="Server"/>, e.g. <c>backups/db/ltx/9</c>.</summary>
    public string LevelDirectory(int level) => Join(Path, $"ltx/{level.ToString(CultureInfo.InvariantCulture)}");

    /// <summary>Path of one LTX file relative to <see cref="Server"/>.</summary>
    public string LtxPath(int level, Txid minTxid, Txid maxTxid) => LevelDirectory(level) + "/" + LtxFileName.Format(minTxid, maxTxid);

    /// <summary>Where <paramref name="path"/> (relative to <see cref="Server"/>) is, for messages: its URL, never with a credential.</summary>
    public string Location(string path) => Server + "/" + path;

    /// <summary>Checks the server answers and accepts the login: a PROPFIND (Depth 0) of webdav-url (the first call; later calls do nothing).</summary>
    public async ValueTask InitAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _initialized) != 0)
        {
            return;
        }
        // Errors name the replica, whose server and collection the user configured, not just the share.
        using HttpResponseMessage response = await SendAsync("connect", Path, ReplicaOperation.List,
            () => Propfind(CollectionUri(""), depth: "0"), cancellationToken).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.MultiStatus)
        {
            throw Failure("connect", Path, response);
        }
        Volatile.Write(ref _initialized, 1);
    }

    /// <inheritdoc />
    public IAsyncEnumerable<LtxFileInfo> ListLtxFilesAsync(int level, Txid seek, bool useMetadata, CancellationToken cancellationToken)
        => DirectoryListing.ListAsync(this, async token =>
        {
            List<WebDavEntry> entries = await ReadCollectionAsync(LevelDirectory(level), token).ConfigureAwait(false);
            var files = new List<LtxFileInfo>(entries.Count);
            foreach (WebDavEntry entry in entries)
            {
                if (!entry.IsCollection && LtxFileName.TryParse(entry.Name, out Txid min, out Txid max) && min >= seek)
                {
                    files.Add(new LtxFileInfo(level, min, max, Math.Max(entry.Length, 0), entry.LastModified ?? DateTimeOffset.UnixEpoch));
                }
            }
            return files;
        }, useMetadata, RequestConcurrency, cancellationToken);

    /// <inheritdoc />
    public async ValueTask<Stream> OpenLtxFileAsync(int level, Txid minTxid, Txid maxTxid, long offset, long size, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        string path = LtxPath(level, minTxid, maxTxid);
        HttpResponseMessage response = await SendAsync("get", path, ReplicaOperation.Get, () =>
        {
            var request = new HttpRequestMessage(HttpMethod.Get, FileUri(path));
            HttpRangedRead.SetRange(request, offset, size);
            return request;
        }, cancellationToken).ConfigureAwait(false);
        try
        {
            if (HttpRangedRead.IsRangeAnswer(response.StatusCode))
            {
                return await HttpRangedRead.BodyAsync(response, offset, size, cancellationToken).ConfigureAwait(false);
            }
            throw response.StatusCode == HttpStatusCode.NotFound ? new ReplicaFileNotFoundException(Location(path)) : Failure("get", path, response);
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
        string path = LtxPath(level, minTxid, maxTxid);
        // A PUT needs its Content-Length: a body of unknown length is staged first.
        SizedLtxUpload upload = await SizedLtxUpload.PrepareAsync("webdav", data, cancellationToken).ConfigureAwait(false);
        await using (upload.ConfigureAwait(false))
        {
            await EnsureCollectionsAsync(LevelDirectory(level), cancellationToken).ConfigureAwait(false);
            await PlaceAsync(path, temp => new HttpRequestMessage(HttpMethod.Put, FileUri(temp)) { Content = upload.Content() }, "put", upload.Length, cancellationToken).ConfigureAwait(false);
            return new LtxFileInfo(level, minTxid, maxTxid, upload.Length, upload.CreatedAt);
        }
    }

    /// <summary>
    /// A server-side COPY (RFC 4918 §9.8) to a temporary name, then the same MOVE into place as an upload: no byte
    /// passes through this machine. Null when the server does not offer COPY (405, 501): the caller uploads instead.
    /// </summary>
    public async ValueTask<LtxFileInfo?> CopyLtxFileAsync(LtxFileInfo source, int level, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        string from = LtxPath(source.Level, source.MinTxid, source.MaxTxid);
        string path = LtxPath(level, source.MinTxid, source.MaxTxid);
        await EnsureCollectionsAsync(LevelDirectory(level), cancellationToken).ConfigureAwait(false);
        bool copied = await PlaceAsync(path, temp =>
        {
            var request = new HttpRequestMessage(s_copy, FileUri(from));
            request.Headers.Add("Destination", FileUri(temp).AbsoluteUri);
            request.Headers.Add("Overwrite", "T");
            request.Headers.Add("Depth", "0");
            return request;
        }, "copy", bytes: 0, cancellationToken, unsupported: static status => status is HttpStatusCode.MethodNotAllowed or HttpStatusCode.NotImplemented).ConfigureAwait(false);
        return copied ? source with { Level = level } : null;
    }

    /// <summary>Makes <paramref name="dir"/> and its parents once per process.</summary>
    private async ValueTask EnsureCollectionsAsync(string dir, CancellationToken cancellationToken)
    {
        if (_madeCollections.ContainsKey(dir))
        {
            return;
        }
        await _mkcolLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await MakeCollectionsAsync(dir, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _mkcolLock.Release();
        }
    }

    /// <summary>
    /// Writes <paramref name="path"/> by a request that creates a temporary file beside it (a PUT or a COPY), then a MOVE
    /// over the final name, so readers never see a partial file. False when <paramref name="unsupported"/> says the
    /// server refused the first request's method.
    /// </summary>
    private async ValueTask<bool> PlaceAsync(string path, Func<string, HttpRequestMessage> create, string operation, long bytes, CancellationToken cancellationToken,
        Func<HttpStatusCode, bool>? unsupported = null)
    {
        // Beside the final name, so the MOVE stays in one collection; never an LTX name.
        string temp = $"{path}.{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}.{Guid.NewGuid():N}.tmp";
        try
        {
            using (HttpResponseMessage created = await SendAsync(operation, path, ReplicaOperation.Put, () => create(temp), cancellationToken, bytes: bytes).ConfigureAwait(false))
            {
                if (unsupported?.Invoke(created.StatusCode) == true)
                {
                    return false;
                }
                if (created.StatusCode is not (HttpStatusCode.Created or HttpStatusCode.NoContent or HttpStatusCode.OK))
                {
                    throw Failure(operation, path, created);
                }
            }
            // Not retried: a MOVE whose answer was lost has moved the file, and a second one would fail.
            using HttpResponseMessage move = await SendAsync("move", path, ReplicaOperation.Put, () =>
            {
                var request = new HttpRequestMessage(s_move, FileUri(temp));
                request.Headers.Add("Destination", FileUri(path).AbsoluteUri);
                request.Headers.Add("Overwrite", "T");
                return request;
            }, cancellationToken, retry: false).ConfigureAwait(false);
            if (move.StatusCode is not (HttpStatusCode.Created or HttpStatusCode.NoContent or HttpStatusCode.OK))
            {
                throw Failure("move", path, move);
            }
            return true;
        }
        catch
        {
            // Also on cancellation: the delete has its own time limit.
            await TryDeleteAsync(temp).ConfigureAwait(false);
            throw;
        }
    }

    /// <inheritdoc />
    public async ValueTask DeleteLtxFilesAsync(IReadOnlyList<LtxFileInfo> files, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(files);
        var options = new ParallelOptions { MaxDegreeOfParallelism = RequestConcurrency, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(files, options, async (file, token) =>
            await DeleteAsync(LtxPath(file.Level, file.MinTxid, file.MaxTxid), collection: false, token).ConfigureAwait(false)).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask DeleteAllAsync(CancellationToken cancellationToken)
    {
        // Only this replica's files: its collection, or the ltx/ tree when it is the server's root.
        await DeleteAsync(Path.Length == 0 ? "ltx" : Path, collection: true, cancellationToken).ConfigureAwait(false);
        _madeCollections.Clear();
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _transport.Http.Dispose();
        _mkcolLock.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>The replica as a URL, e.g. <c>http://host:8080/backups/db</c> (never with a credential).</summary>
    public override string ToString() => Path.Length == 0 ? Server + "/" : Location(Path);

    /// <summary>The members of a collection; a missing collection has none.</summary>
    private async Task<List<WebDavEntry>> ReadCollectionAsync(string dir, CancellationToken cancellationToken)
    {
        using HttpResponseMessage response = await SendAsync("list", dir + "/", ReplicaOperation.List,
            () => Propfind(CollectionUri(dir), depth: "1"), cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return [];
        }
        if (response.StatusCode != HttpStatusCode.MultiStatus)
        {
            throw Failure("list", dir + "/", response);
        }
        try
        {
            Stream body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await using (body.ConfigureAwait(false))
            {
                return await WebDavListing.ReadAsync(body, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (HttpStorageRetry.IsTransportError(e, cancellationToken) || e is XmlException)
        {
            throw Failure("list", dir + "/", e is XmlException ? new InvalidDataException($"unreadable PROPFIND answer: {e.Message}", e) : e);
        }
    }

    /// <summary>A PROPFIND of <paramref name="uri"/> asking for type, length and modification time.</summary>
    private static HttpRequestMessage Propfind(Uri uri, string depth)
    {
        var request = new HttpRequestMessage(s_propfind, uri)
        {
            Content = new StringContent(WebDavListing.RequestBody, Encoding.UTF8, "application/xml"),
        };
        request.Headers.Add("Depth", depth);
        return request;
    }

    /// <summary>MKCOL of a level's collection and, when the server says a parent is missing (409), of its parents first; once while known to exist.</summary>
    private async Task MakeCollectionsAsync(string dir, CancellationToken cancellationToken)
    {
        if (dir.Length == 0 || _madeCollections.ContainsKey(dir))
        {
            return;
        }
        if (!await TryMakeCollectionAsync(dir, cancellationToken).ConfigureAwait(false))
        {
            int slash = dir.LastIndexOf('/');
            if (slash < 0)
            {
                throw new ReplicaStorageException(Redaction.Apply($"webdav: mkcol {Location(dir + "/")}: 409 Conflict (the server's root refuses it)"),
                    "check webdav-url: it must name a collection that exists on the server");
            }
            await MakeCollectionsAsync(dir[..slash], cancellationToken).ConfigureAwait(false);
            if (!await TryMakeCollectionAsync(dir, cancellationToken).ConfigureAwait(false))
            {
                throw new ReplicaStorageException(Redaction.Apply($"webdav: mkcol {Location(dir + "/")}: 409 Conflict after its parent was made"),
                    "check that the path is a collection the user may write");
            }
        }
        _madeCollections[dir] = true;
    }

    /// <summary>Makes one collection; true when it exists now, false when its parent is missing.</summary>
    private async Task<bool> TryMakeCollectionAsync(string dir, CancellationToken cancellationToken)
    {
        using HttpResponseMessage response = await SendAsync("mkcol", dir + "/", ReplicaOperation.Put,
            () => new HttpRequestMessage(s_mkcol, CollectionUri(dir)), cancellationToken).ConfigureAwait(false);
        return response.StatusCode switch
        {
            HttpStatusCode.Created or HttpStatusCode.OK or HttpStatusCode.NoContent => true,
            // RFC 4918 §9.3.1: 405 when the collection exists already.
            HttpStatusCode.MethodNotAllowed => true,
            HttpStatusCode.Conflict => false,
            _ => throw Failure("mkcol", dir + "/", response),
        };
    }

    /// <summary>DELETE of a file or a whole collection; gone already is fine (deletes are idempotent).</summary>
    private async Task DeleteAsync(string path, bool collection, CancellationToken cancellationToken)
    {
        using HttpResponseMessage response = await SendAsync("delete", path, ReplicaOperation.Delete, () =>
        {
            var request = new HttpRequestMessage(HttpMethod.Delete, collection ? CollectionUri(path) : FileUri(path));
            if (collection)
            {
                request.Headers.Add("Depth", "infinity");
            }
            return request;
        }, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode is not (HttpStatusCode.NoContent or HttpStatusCode.OK or HttpStatusCode.NotFound or HttpStatusCode.Accepted))
        {
            throw Failure("delete", path, response);
        }
    }

    private async ValueTask TryDeleteAsync(string path)
    {
        using var timeout = new CancellationTokenSource(_transport.Timeouts.Response);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Delete, FileUri(path));
            using HttpResponseMessage response = await _transport.Http.SendAsync(request, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (HttpStorageRetry.IsTransportError(e, CancellationToken.None))
        {
            // best effort: a stray .tmp is never listed
        }
    }

    /// <summary>
    /// Sends one request (made anew for each attempt) and returns its response, whatever its status. A failure
    /// in transit or a 502/503/504 is tried again up to MaxRetries times with a growing pause when
    /// <paramref name="retry"/>, a 423 Locked always; a refused connection, an unknown host or a stall is not (each would only add
    /// its wait again). Counted in the replica metrics as <paramref name="metric"/>.
    /// </summary>
    private Task<HttpResponseMessage> SendAsync(string operation, string path, string metric, Func<HttpRequestMessage> make,
        CancellationToken cancellationToken, bool retry = true, long bytes = 0)
        // 423: the server holds a lock on the path for another request in flight (rclone locks each MKCOL, PUT and
        // MOVE); nothing was done, so even a MOVE may ask again.
        => _transport.SendAsync(metric, make, e => Failure(operation, path, e), (status, attempt)
            => attempt < _transport.MaxRetries && (status == 423 || (retry && status is 502 or 503 or 504))
                ? HttpStorageTransport.StatusAction.RetryAfterPause
                : HttpStorageTransport.StatusAction.Return,
            cancellationToken, retryTransport: retry, bytes: bytes);

    /// <summary>One line naming the operation, the URL and the server's answer, with a hint; no credential.</summary>
    private ReplicaStorageException Failure(string operation, string path, HttpResponseMessage response)
    {
        int status = (int)response.StatusCode;
        string answer = $"{status.ToString(CultureInfo.InvariantCulture)} {response.ReasonPhrase}".TrimEnd();
        (string detail, string? hint) = status switch
        {
            401 => ($"login refused ({answer})", User is null
                ? "the server wants a login: set webdav-username and webdav-password (or user:password@ in the replica URL)"
                : $"check webdav-username \"{User}\" and webdav-password (or user:password@ in the replica URL)"),
            403 => ($"permission denied ({answer})", $"check that {(User is null ? "anonymous users" : $"user \"{User}\"")} may {operation} there on the server"),
            404 => ($"not found ({answer})", "check webdav-url and path: the server has no collection there"),
            405 or 501 => ($"method not allowed ({answer})", "check that webdav-url names a WebDAV share (PROPFIND, MKCOL, PUT, MOVE, DELETE enabled), not a plain web server"),
            409 => ($"conflict ({answer})", "check that the path's parent exists and is a collection"),
            507 => ($"server out of space ({answer})", "free space on the server or raise the user's quota"),
            >= 300 and < 400 => ($"redirected ({answer}) to {Redaction.Apply(response.Headers.Location?.ToString() ?? "nowhere")}",
                "set webdav-url to where the server redirects (http:// vs https://, or its base path)"),
            _ => (answer, status >= 500 ? "check the server's log" : null),
        };
        return new ReplicaStorageException(Redaction.Apply($"webdav: {operation} {Location(path)}: {detail}"), hint);
    }

    /// <summary>The same for a failure that got no answer: unreachable, refused, stalled, cut off.</summary>
    private ReplicaStorageException Failure(string operation, string path, Exception error)
    {
        if (error is ReplicaStorageException storage)
        {
            return storage;
        }
        (string detail, string? hint) = error switch
        {
            StallException e => (e.Message, "check that the server is reachable and answering (or raise LITESTREAM_STORAGE_*_TIMEOUT)"),
            HttpRequestException { HttpRequestError: HttpRequestError.NameResolutionError } => ("unknown host", "check the host in webdav-url (or the replica URL)"),
            HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError } e => ($"cannot connect: {FirstLine(e.InnerException?.Message ?? e.Message)}",
                "check the host and port in webdav-url (or the replica URL) and the network"),
            HttpRequestException { HttpRequestError: HttpRequestError.SecureConnectionError } e => ($"TLS failed: {FirstLine(e.InnerException?.Message ?? e.Message)}",
                "check that the server speaks https (webdavs://) with a certificate this machine trusts, or use webdav:// for plain http"),
            OperationCanceledException => ($"no answer within {GoDuration.Format(_transport.Timeouts.Response)}", "check that the server is reachable and answering"),
            _ => (FirstLine(error.Message) + (error.InnerException is { } inner ? ": " + FirstLine(inner.Message) : ""), "check the server and the network"),
        };
        string message = Redaction.Apply($"webdav: {operation} {Location(path)}: {detail}");
        string full = error.ToString();
        return new ReplicaStorageException(message, hint, Redaction.Apply(full) != full ? null : error);
    }

    /// <summary>A collection's URL, always with its trailing '/' (servers redirect a collection asked for without one).</summary>
    private Uri CollectionUri(string dir) => new(Server + "/" + Escape(dir) + (dir.Length == 0 ? "" : "/"));

    private Uri FileUri(string path) => new(Server + "/" + Escape(path));

    private static string Escape(string path) => string.Join('/', path.Split('/').Select(Uri.EscapeDataString));

    private static string Join(string root, string relative) => root.Length == 0 ? relative : root + "/" + relative;

    private static string FirstLine(string text)
    {
        int end = text.IndexOfAny(['\r', '\n']);
        return (end < 0 ? text : text[..end]).Trim();
    }

    private static string? NonEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
