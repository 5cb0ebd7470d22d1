using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Data.Sqlite;

namespace Litestream.Client;

/// <summary>
/// A client of a running <c>litestream replicate</c>'s control API (litefs-go's functions in C# shape): over its Unix
/// socket (<c>socket: {enabled: true, path: …}</c>), or over TCP with a bearer token when
/// <see cref="LitestreamClientOptions.Address"/> is set (<c>socket.addr</c> and <c>socket.token</c>). Thread-safe; one
/// per daemon is enough.
/// </summary>
public sealed class LitestreamClient : IDisposable
{
    private readonly LitestreamClientOptions _options;
    private readonly HttpClient _http;
    private readonly HttpClient _streams;
    private readonly Uri _base;
    // The halt this client holds per database: UnhaltAsync names it by the id the daemon gave.
    private readonly ConcurrentDictionary<string, Halt> _halts = new(StringComparer.Ordinal);

    /// <summary>A client of the daemon listening on the Unix socket <paramref name="socketPath"/>.</summary>
    public LitestreamClient(string socketPath)
        : this(new LitestreamClientOptions { SocketPath = socketPath })
    {
    }

    /// <summary>A client of the daemon <paramref name="options"/> names.</summary>
    /// <exception cref="ArgumentException">A TCP address without a token.</exception>
    public LitestreamClient(LitestreamClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Address is not null && string.IsNullOrEmpty(options.Token))
        {
            throw new ArgumentException("a TCP address needs the daemon's socket.token as Token", nameof(options));
        }
        _options = options;
        _base = options.Address ?? new Uri("http://localhost");
        _http = Create(options.Timeout);
        _streams = Create(System.Threading.Timeout.InfiniteTimeSpan);
    }

    /// <summary>Where the requests go: the socket path or the TCP address (for messages).</summary>
    public string Endpoint => _options.Address?.ToString() ?? _options.SocketPath;

    /// <summary>
    /// How far the replicas of <paramref name="path"/> (the database's path on the daemon's machine) are behind it
    /// (litefs-go <c>Lag</c>).
    /// </summary>
    public async Task<ReplicationLag> LagAsync(string path, CancellationToken cancellationToken = default)
    {
        LagReply reply = await SendAsync(HttpMethod.Get, "/lag?path=" + Uri.EscapeDataString(path), null, ClientJsonContext.Default.LagReply, cancellationToken).ConfigureAwait(false);
        return new ReplicationLag(reply.Path, reply.Txid, reply.ReplicatedTxid, reply.BehindTxids, reply.LagSeconds is { } s ? TimeSpan.FromSeconds(s) : null);
    }

    /// <summary>
    /// Halts the database's writers (litefs-go <c>Halt</c>): the daemon takes its write lock (the application's writers
    /// wait on their busy timeout, they do not fail) and syncs until every replica holds what was committed before it.
    /// The halt is released by <see cref="UnhaltAsync"/>, or by the daemon after <paramref name="timeout"/> (whole
    /// seconds; default 30 s, at most 10 minutes).
    /// </summary>
    /// <exception cref="LitestreamClientException">Unknown database (404), not open or halted already (409), a writer kept the lock for 30 s (503).</exception>
    public async Task<Halt> HaltAsync(string path, TimeSpan timeout = default, CancellationToken cancellationToken = default)
    {
        string full = Path.GetFullPath(path);
        var request = new HaltRequest(full, (int)Math.Ceiling(timeout.TotalSeconds));
        HaltReply reply = await SendAsync(HttpMethod.Post, "/halt", Json(request, ClientJsonContext.Default.HaltRequest), ClientJsonContext.Default.HaltReply, cancellationToken).ConfigureAwait(false);
        var halt = new Halt(reply.Path, reply.Id, reply.Txid, reply.ExpiresAt);
        _halts[full] = halt;
        return halt;
    }

    /// <summary>Releases the halt this client took on <paramref name="path"/> (litefs-go <c>Unhalt</c>); returns the database's TXID.</summary>
    /// <exception cref="InvalidOperationException">This client holds no halt on it.</exception>
    /// <exception cref="LitestreamClientException">The halt expired already (404).</exception>
    public async Task<ulong> UnhaltAsync(string path, CancellationToken cancellationToken = default)
    {
        string full = Path.GetFullPath(path);
        if (!_halts.TryRemove(full, out Halt? halt))
        {
            throw new InvalidOperationException($"this client holds no halt on {full}");
        }
        UnhaltReply reply = await SendAsync(HttpMethod.Post, "/unhalt", Json(new UnhaltRequest(full, halt.Id), ClientJsonContext.Default.UnhaltRequest), ClientJsonContext.Default.UnhaltReply, cancellationToken).ConfigureAwait(false);
        return reply.Txid;
    }

    /// <summary>
    /// Runs <paramref name="write"/> as one write transaction on the primary's database <paramref name="path"/>
    /// (litefs-go <c>WithHalt</c>) and returns its TXID once every replica holds it; <paramref name="write"/> throwing
    /// writes nothing.
    /// <para>On the primary's machine the transaction itself is the halt: <c>BEGIN IMMEDIATE</c> on a connection of its
    /// own, so the application's writers wait on their busy timeout while it runs.</para>
    /// <para>On a replica node (<paramref name="path"/> is in <see cref="LitestreamClientOptions.FollowerCopies"/>) the
    /// write is forwarded, as LiteFS does: the primary is halted, the follower copy brought to its TXID, the transaction
    /// run on a private snapshot of the copy, and the pages it changed sent to the primary (<c>POST /forward</c>), which
    /// applies them in its held write transaction, commits, replicates and unhalts; it returns once the copy holds the
    /// result, so the caller reads its own write.</para>
    /// </summary>
    /// <exception cref="NotSupportedException">Over TCP for a path with no follower copy.</exception>
    /// <exception cref="LitestreamClientException">The primary refused (its TXID moved: 409, the halt expired: 404, …); nothing was applied.</exception>
    public async Task<ulong> WithHaltAsync(string path, Func<SqliteConnection, Task> write, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(write);
        string full = Path.GetFullPath(path);
        if (_options.FollowerCopies.TryGetValue(path, out string? copy) || _options.FollowerCopies.TryGetValue(full, out copy))
        {
            return await ForwardAsync(full, Path.GetFullPath(copy), write, cancellationToken).ConfigureAwait(false);
        }
        if (_options.Address is not null)
        {
            throw new NotSupportedException($"{full} is on the daemon's machine: add this node's follower copy of it to FollowerCopies to forward the write");
        }
        using (SqliteConnection connection = Open(full))
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            await RunAsync(connection, write).ConfigureAwait(false);
        }
        var sync = new SyncWaitRequest(full, Wait: true, Timeout: (int)_options.Timeout.TotalSeconds);
        SyncReply reply = await SendAsync(HttpMethod.Post, "/sync", Json(sync, ClientJsonContext.Default.SyncWaitRequest), ClientJsonContext.Default.SyncReply, cancellationToken).ConfigureAwait(false);
        return reply.Txid;
    }

    private async Task<ulong> ForwardAsync(string path, string copy, Func<SqliteConnection, Task> write, CancellationToken cancellationToken)
    {
        Halt halt = await HaltAsync(path, _options.Timeout, cancellationToken).ConfigureAwait(false);
        try
        {
            await WaitForCopyAsync(copy, halt.Txid, cancellationToken).ConfigureAwait(false);
            PageSet changes = await PageSet.CaptureAsync(copy, Open, (connection, _) => RunAsync(connection, write), cancellationToken).ConfigureAwait(false);
            if (changes.Pages.Count == 0)
            {
                return halt.Txid;
            }
            var request = new ForwardRequest(halt.Path, halt.Id, halt.Txid, changes.Commit, [.. changes.Pages.Select(p => new ForwardPage(p.Pgno, p.Data))]);
            ForwardReply reply = await SendAsync(HttpMethod.Post, "/forward", Json(request, ClientJsonContext.Default.ForwardRequest), ClientJsonContext.Default.ForwardReply, cancellationToken).ConfigureAwait(false);
            _halts.TryRemove(halt.Path, out _);
            await WaitForCopyAsync(copy, reply.Txid, cancellationToken).ConfigureAwait(false);
            return reply.Txid;
        }
        finally
        {
            if (_halts.TryGetValue(halt.Path, out Halt? held) && held.Id == halt.Id)
            {
                try
                {
                    await UnhaltAsync(halt.Path, CancellationToken.None).ConfigureAwait(false);
                }
                catch (LitestreamClientException e) when (e.Status == 404)
                {
                    // Released already: it expired, or the failed forward released it.
                }
            }
        }
    }

    /// <summary>Waits until the follower copy's <c>-txid</c> file says it holds <paramref name="txid"/>.</summary>
    private async Task WaitForCopyAsync(string copy, ulong txid, CancellationToken cancellationToken)
    {
        DateTime deadline = DateTime.UtcNow + _options.Timeout;
        ulong applied = 0;
        while ((applied = AppliedTxid(copy)) < txid)
        {
            if (DateTime.UtcNow >= deadline)
            {
                throw new LitestreamClientException(0, $"the follower copy {copy} is at txid {applied:x16}, not {txid:x16}, after {_options.Timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s: is 'litestream restore -f -o {copy}' running?");
            }
            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The TXID a follower copy applied last (<c>COPY-txid</c>, 16 hex digits); 0 when it has none yet.</summary>
    private static ulong AppliedTxid(string copy)
    {
        try
        {
            return ulong.TryParse(File.ReadAllText(copy + "-txid").Trim(), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong txid) ? txid : 0;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or IOException)
        {
            return 0;
        }
    }

    private SqliteConnection Open(string path)
        => new(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWrite, Pooling = false, DefaultTimeout = (int)_options.Timeout.TotalSeconds }.ToString());

    /// <summary>One BEGIN IMMEDIATE … COMMIT around <paramref name="write"/>; rolled back when it throws.</summary>
    private async Task RunAsync(SqliteConnection connection, Func<SqliteConnection, Task> write)
    {
        Execute(connection, $"PRAGMA busy_timeout = {(long)_options.Timeout.TotalMilliseconds}");
        Execute(connection, "BEGIN IMMEDIATE");
        try
        {
            await write(connection).ConfigureAwait(false);
            Execute(connection, "COMMIT");
        }
        catch
        {
            Execute(connection, "ROLLBACK");
            throw;
        }
    }

    /// <summary>
    /// Subscribes to the daemon's event stream (litefs-go <c>SubscribeEvents</c>): every database's, or
    /// <paramref name="db"/>'s only. Returns once the daemon accepted it; the first events are the <c>init</c> ones.
    /// </summary>
    public async Task<EventSubscription> SubscribeEventsAsync(string? db = null, CancellationToken cancellationToken = default)
    {
        string route = db is null ? "/events" : "/events?db=" + Uri.EscapeDataString(Path.GetFullPath(db));
        using var message = Request(HttpMethod.Get, route, null);
        HttpResponseMessage response = await SendRawAsync(_streams, message, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            using (response)
            {
                throw await RefusedAsync(response, cancellationToken).ConfigureAwait(false);
            }
        }
        return new EventSubscription(response, await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), Endpoint);
    }

    /// <summary>Starts a <see cref="PrimaryMonitor"/> for <paramref name="db"/>; returns once it knows the current primary (the <c>init</c> event).</summary>
    public async Task<PrimaryMonitor> MonitorPrimaryAsync(string db, CancellationToken cancellationToken = default)
    {
        EventSubscription subscription = await SubscribeEventsAsync(db, cancellationToken).ConfigureAwait(false);
        return await PrimaryMonitor.StartAsync(subscription, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _http.Dispose();
        _streams.Dispose();
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static ByteArrayContent Json<T>(T value, JsonTypeInfo<T> type)
    {
        var content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(value, type));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }

    private HttpRequestMessage Request(HttpMethod method, string route, HttpContent? content)
    {
        var message = new HttpRequestMessage(method, new Uri(_base, route)) { Content = content };
        if (_options.Address is not null)
        {
            message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _options.Token);
        }
        return message;
    }

    private async Task<T> SendAsync<T>(HttpMethod method, string route, HttpContent? content, JsonTypeInfo<T> type, CancellationToken cancellationToken)
    {
        using HttpRequestMessage message = Request(method, route, content);
        using HttpResponseMessage response = await SendRawAsync(_http, message, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw await RefusedAsync(response, cancellationToken).ConfigureAwait(false);
        }
        byte[] body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return JsonSerializer.Deserialize(body, type) ?? throw new JsonException("null");
        }
        catch (JsonException e)
        {
            throw new LitestreamClientException(200, $"unexpected reply from {Endpoint}: {Encoding.UTF8.GetString(body).Trim()}", e);
        }
    }

    private async Task<HttpResponseMessage> SendRawAsync(HttpClient client, HttpRequestMessage message, HttpCompletionOption completion, CancellationToken cancellationToken)
    {
        try
        {
            return await client.SendAsync(message, completion, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            throw new LitestreamClientException(0, $"cannot reach the litestream daemon at {Endpoint}: {e.Message}", e);
        }
        catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new LitestreamClientException(0, $"no answer from the litestream daemon at {Endpoint} within {_options.Timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s", e);
        }
    }

    private static async Task<LitestreamClientException> RefusedAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        byte[] body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        string? error = null;
        try
        {
            error = JsonSerializer.Deserialize(body, ClientJsonContext.Default.ErrorReply)?.Error;
        }
        catch (JsonException)
        {
        }
        return new LitestreamClientException((int)response.StatusCode, error ?? Encoding.UTF8.GetString(body).Trim());
    }

    /// <summary>An HTTP client whose connections go to the Unix socket, or to the TCP address.</summary>
    private HttpClient Create(TimeSpan timeout)
    {
        var handler = new SocketsHttpHandler { UseProxy = false };
        if (_options.Address is null)
        {
            string socketPath = _options.SocketPath;
            handler.ConnectCallback = async (_, token) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), token).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            };
        }
        return new HttpClient(handler, disposeHandler: true) { Timeout = timeout };
    }
}
