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
    /// Runs <paramref name="write"/> as one write transaction on the primary's database (litefs-go <c>WithHalt</c>) and
    /// returns once every replica holds it (its TXID is returned). On the primary's machine (the Unix socket) the
    /// transaction itself is the halt: <c>BEGIN IMMEDIATE</c> on a connection of its own, so the application's writers
    /// wait on their busy timeout while it runs; <paramref name="write"/> throwing rolls it back and nothing is
    /// written. <paramref name="path"/> is the database file.
    /// </summary>
    /// <exception cref="NotSupportedException">The client talks to a daemon over TCP: forwarding a replica's writes to the primary is not implemented yet.</exception>
    public async Task<ulong> WithHaltAsync(string path, Func<SqliteConnection, Task> write, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(write);
        if (_options.Address is not null)
        {
            throw new NotSupportedException("WithHaltAsync runs on the primary's machine (over its Unix socket): forwarding a replica's writes over TCP is not implemented yet");
        }
        string full = Path.GetFullPath(path);
        using (var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = full, Mode = SqliteOpenMode.ReadWrite, Pooling = false, DefaultTimeout = (int)_options.Timeout.TotalSeconds }.ToString()))
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
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
        var sync = new SyncWaitRequest(full, Wait: true, Timeout: (int)_options.Timeout.TotalSeconds);
        SyncReply reply = await SendAsync(HttpMethod.Post, "/sync", Json(sync, ClientJsonContext.Default.SyncWaitRequest), ClientJsonContext.Default.SyncReply, cancellationToken).ConfigureAwait(false);
        return reply.Txid;
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
