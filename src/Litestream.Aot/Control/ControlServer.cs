using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Litestream.Storage;
using Microsoft.Extensions.Logging;

namespace Litestream.Aot.Control;

/// <summary>
/// The daemon's control socket (upstream <c>Server</c> in server.go): HTTP/1.1 over a Unix socket served by a
/// <see cref="BoundedHttpServer"/> (one request per connection, bounded in connections, size and time), JSON bodies
/// from <see cref="LitestreamJsonContext"/>. A stale socket file left by a crashed daemon is replaced; a live one
/// (another daemon answering) is an error. With <c>socket.addr</c> the same API is served over TCP too, where every
/// request must carry <c>Authorization: Bearer TOKEN</c> (<c>socket.token</c>) or is refused with a 401 before it
/// is looked at.
/// </summary>
internal sealed class ControlServer : IAsyncDisposable
{
    private static readonly TimeSpan s_defaultTimeout = TimeSpan.FromSeconds(30);

    private readonly ReplicationDaemon _daemon;
    private readonly BoundedHttpServer _server;
    private readonly EventStream _events;
    private readonly DatabaseHalts _halts;
    private readonly ILogger _logger;
    private BoundedHttpServer? _tcp;

    private ControlServer(string path, Socket listener, ReplicationDaemon daemon, ILogger logger)
    {
        SocketPath = path;
        _daemon = daemon;
        _logger = logger;
        _events = new EventStream(daemon);
        _halts = new DatabaseHalts(daemon, logger);
        _server = new BoundedHttpServer(listener, "control socket", HandleAsync, static (status, message) => ToAnswer(Error(status, message)), logger);
    }

    /// <summary>The socket file.</summary>
    public string SocketPath { get; }

    /// <summary>Binds <paramref name="path"/> with <paramref name="permissions"/> and starts serving.</summary>
    public static ControlServer Start(string path, UnixFileMode permissions, ReplicationDaemon daemon, ILogger logger)
    {
        RemoveStaleSocket(path);
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(path));
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(path, permissions);
            }
            listener.Listen(16);
        }
        catch (Exception e) when (e is SocketException or IOException or UnauthorizedAccessException)
        {
            listener.Dispose();
            throw new CommandException($"cannot listen on control socket {path}: {e.Message}", "check that the directory exists and is writable, or set socket.path in the config");
        }
        logger.Log(LogLevel.Information, default, $"control socket listening on {path}", null, static (s, _) => s);
        return new ControlServer(path, listener, daemon, logger);
    }

    /// <summary>
    /// Serves the same API on TCP <paramref name="addr"/> (<c>socket.addr</c>) to clients that send
    /// <paramref name="token"/> as a bearer token.
    /// </summary>
    /// <exception cref="CommandException">The address cannot be bound.</exception>
    public void ListenTcp(string addr, string token)
    {
        (Socket listener, string shown) = TcpListen.Bind(addr, "socket.addr");
        byte[] expected = Encoding.UTF8.GetBytes("Bearer " + token);
        _tcp = new BoundedHttpServer(listener, "control API", HandleAsync, static (status, message) => ToAnswer(Error(status, message)), _logger,
            (string? authorization, out string refusal) =>
            {
                refusal = "unauthorized: the control API over TCP needs Authorization: Bearer <socket.token>";
                return Authorized(authorization, expected);
            });
        _logger.Log(LogLevel.Information, default, $"control API listening on {shown} (bearer token required)", null, static (s, _) => s);
    }

    /// <summary>The request's <c>Authorization</c> header is the token, compared in constant time.</summary>
    private static bool Authorized(string? authorization, byte[] expected)
        => authorization is { } header && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(header), expected);

    public async ValueTask DisposeAsync()
    {
        if (_tcp is not null)
        {
            await _tcp.DisposeAsync().ConfigureAwait(false);
        }
        await _server.DisposeAsync().ConfigureAwait(false);
        _halts.Dispose();
        try
        {
            File.Delete(SocketPath);
        }
        catch (IOException)
        {
        }
    }

    private static void RemoveStaleSocket(string path)
    {
        if (!File.Exists(path))
        {
            return;
        }
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused && new FileInfo(path).Length == 0)
        {
            // Nobody listens: the file is left over from a daemon that did not shut down cleanly.
            File.Delete(path);
            return;
        }
        catch (SocketException)
        {
            throw new CommandException($"socket path exists but is not a socket: {path}", "remove the file or choose another socket.path");
        }
        throw new CommandException($"control socket {path} is in use by another process", "stop the other 'litestream replicate', or choose another socket.path");
    }

    private async Task<HttpAnswer> HandleAsync(ControlRequest request, CancellationToken stopping)
    {
        if (request.Method == "GET" && request.Target.Split('?', 2)[0] == "/events")
        {
            try
            {
                return _events.Answer(EventsFilter(request.Target));
            }
            catch (ControlException e)
            {
                return ToAnswer(Error(e.Status, e.Message));
            }
        }
        return ToAnswer(await RouteAsync(request, stopping).ConfigureAwait(false));
    }

    /// <summary>The database <c>/events?db=PATH</c> names (null: every one); any other parameter is a malformed request.</summary>
    private static string? EventsFilter(string target)
    {
        int q = target.IndexOf('?', StringComparison.Ordinal);
        if (q < 0 || q == target.Length - 1)
        {
            return null;
        }
        foreach (string pair in target[(q + 1)..].Split('&'))
        {
            if (!pair.StartsWith("db=", StringComparison.Ordinal))
            {
                throw new ControlException(400, $"unknown parameter in /events: only db=PATH is accepted");
            }
        }
        return RequirePath(Query(target, "db"));
    }

    private static HttpAnswer ToAnswer((int Status, byte[] Body) answer) => new(answer.Status, answer.Body, "application/json");

    private async Task<(int Status, byte[] Body)> RouteAsync(ControlRequest r, CancellationToken stopping)
    {
        string route = r.Target.Split('?', 2)[0];
        try
        {
            return (r.Method, route) switch
            {
                ("GET", "/info") => Ok(new InfoResponse(BuildInfo.Version, Environment.ProcessId, (long)(DateTimeOffset.UtcNow - _daemon.StartedAt).TotalSeconds, LitestreamJsonContext.FormatTime(_daemon.StartedAt), _daemon.Count, [.. _daemon.Replicas()]), LitestreamJsonContext.Wire.InfoResponse),
                ("GET", "/list") => Ok(new ListResponse([.. _daemon.List()]), LitestreamJsonContext.Wire.ListResponse),
                ("GET", "/txid") => Ok(new TxidResponse(_daemon.Txid(RequirePath(Query(r.Target, "path")))), LitestreamJsonContext.Wire.TxidResponse),
                ("POST", "/start") => await StartStopAsync(r.Body, start: true).ConfigureAwait(false),
                ("POST", "/stop") => await StartStopAsync(r.Body, start: false).ConfigureAwait(false),
                ("POST", "/sync") => await SyncAsync(r.Body).ConfigureAwait(false),
                ("POST", "/register") => await RegisterAsync(r.Body).ConfigureAwait(false),
                ("POST", "/unregister") => await UnregisterAsync(r.Body).ConfigureAwait(false),
                ("GET", "/lag") => Ok(_daemon.Lag(RequirePath(Query(r.Target, "path"))), LitestreamJsonContext.Wire.LagResponse),
                ("POST", "/halt") => await HaltAsync(r.Body, stopping).ConfigureAwait(false),
                ("POST", "/unhalt") => Unhalt(r.Body),
                ("POST", "/forward") => await ForwardAsync(r.Body, stopping).ConfigureAwait(false),
                (_, "/info" or "/list" or "/txid" or "/events" or "/start" or "/stop" or "/sync" or "/register" or "/unregister" or "/lag" or "/halt" or "/unhalt" or "/forward") => Error(405, "method not allowed"),
                _ => Error(404, "not found"),
            };
        }
        catch (ControlException e)
        {
            return Error(e.Status, e.Message);
        }
        catch (JsonException e)
        {
            return Error(400, "invalid request body", e.Message);
        }
        catch (Exception e) when (e is not OperationCanceledException || !stopping.IsCancellationRequested)
        {
            return Error(500, Errors.Describe(e));
        }
    }

    private async Task<(int, byte[])> HaltAsync(byte[] body, CancellationToken stopping)
    {
        HaltRequest request = Parse(body, LitestreamJsonContext.Wire.HaltRequest);
        string path = RequirePath(request.Path);
        return Ok(await _halts.HaltAsync(path, TimeSpan.FromSeconds(request.Timeout), stopping).ConfigureAwait(false), LitestreamJsonContext.Wire.HaltResponse);
    }

    private (int, byte[]) Unhalt(byte[] body)
    {
        UnhaltRequest request = Parse(body, LitestreamJsonContext.Wire.UnhaltRequest);
        return Ok(_halts.Unhalt(RequirePath(request.Path), request.Id), LitestreamJsonContext.Wire.UnhaltResponse);
    }

    private async Task<(int, byte[])> ForwardAsync(byte[] body, CancellationToken stopping)
    {
        ForwardRequest request = Parse(body, LitestreamJsonContext.Wire.ForwardRequest);
        string path = RequirePath(request.Path);
        ForwardResponse response = await _halts.ForwardAsync(path, request.Id, request.Txid, request.Commit, request.Pages ?? [], stopping).ConfigureAwait(false);
        return Ok(response, LitestreamJsonContext.Wire.ForwardResponse);
    }

    private async Task<(int, byte[])> StartStopAsync(byte[] body, bool start)
    {
        PathTimeoutRequest request = Parse(body, LitestreamJsonContext.Wire.PathTimeoutRequest);
        string path = RequirePath(request.Path);
        TimeSpan timeout = ServerTimeout(request.Timeout);
        StartStopResponse response = start
            ? await _daemon.StartAsync(path, timeout, _server.Stopping).ConfigureAwait(false)
            : await _daemon.StopAsync(path, timeout, _server.Stopping).ConfigureAwait(false);
        return Ok(response, LitestreamJsonContext.Wire.StartStopResponse);
    }

    private async Task<(int, byte[])> SyncAsync(byte[] body)
    {
        SyncRequest request = Parse(body, LitestreamJsonContext.Wire.SyncRequest);
        string path = RequirePath(request.Path);
        // Upstream: -wait without a timeout waits at most 30 s. The daemon's own deadline ends a second before the
        // client's, so a replica that is behind is reported as such rather than as no answer.
        return Ok(await _daemon.SyncAsync(path, request.Wait, ServerTimeout(request.Timeout), _server.Stopping).ConfigureAwait(false), LitestreamJsonContext.Wire.SyncResponse);
    }

    private async Task<(int, byte[])> RegisterAsync(byte[] body)
    {
        RegisterRequest request = Parse(body, LitestreamJsonContext.Wire.RegisterRequest);
        string path = RequirePath(request.Path);
        if (string.IsNullOrEmpty(request.ReplicaUrl))
        {
            throw new ControlException(400, "replica_url required");
        }
        try
        {
            return Ok(await _daemon.RegisterAsync(path, request.ReplicaUrl, _server.Stopping).ConfigureAwait(false), LitestreamJsonContext.Wire.RegisterResponse);
        }
        catch (Exception e) when (e is ArgumentException or CommandException)
        {
            throw new ControlException(400, $"invalid replica url: {e.Message}");
        }
    }

    private async Task<(int, byte[])> UnregisterAsync(byte[] body)
    {
        PathTimeoutRequest request = Parse(body, LitestreamJsonContext.Wire.PathTimeoutRequest);
        string path = RequirePath(request.Path);
        TimeSpan timeout = ServerTimeout(request.Timeout);
        return Ok(await _daemon.UnregisterAsync(path, timeout, _server.Stopping).ConfigureAwait(false), LitestreamJsonContext.Wire.UnregisterResponse);
    }

    /// <summary>
    /// How long to wait for a database to open or stop: the client's -timeout less a second, so the daemon answers
    /// (with an error if need be) before the client gives up; 30 s when the request names none.
    /// </summary>
    private static TimeSpan ServerTimeout(int seconds) => seconds > 0 ? TimeSpan.FromSeconds(Math.Max(1, seconds - 1)) : s_defaultTimeout;

    private static T Parse<T>(byte[] body, JsonTypeInfo<T> type)
        => JsonSerializer.Deserialize(body, type) ?? throw new ControlException(400, "invalid request body");

    /// <summary>Paths as upstream's PathExpander makes them: <c>~/</c> expanded, then absolute.</summary>
    private static string RequirePath(string? path)
    {
        if (string.IsNullOrEmpty(path))
        {
            throw new ControlException(400, "path required");
        }
        if (path.StartsWith("~/", StringComparison.Ordinal))
        {
            path = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), path[2..]);
        }
        return Path.GetFullPath(path);
    }

    private static string? Query(string target, string name)
    {
        int q = target.IndexOf('?', StringComparison.Ordinal);
        if (q < 0)
        {
            return null;
        }
        foreach (string pair in target[(q + 1)..].Split('&'))
        {
            string[] kv = pair.Split('=', 2);
            if (kv.Length == 2 && kv[0] == name)
            {
                return Uri.UnescapeDataString(kv[1].Replace('+', ' '));
            }
        }
        return null;
    }

    private static (int, byte[]) Ok<T>(T value, JsonTypeInfo<T> type) => (200, Line(value, type));

    private static (int, byte[]) Error(int status, string message, string? details = null)
        => (status, Line(new ErrorResponse(message, details), LitestreamJsonContext.Wire.ErrorResponse));

    /// <summary>
    /// Compact JSON and a newline, as Go's <c>json.NewEncoder(w).Encode(v)</c> writes, with no credential in it:
    /// errors quote what failed, and the client prints them.
    /// </summary>
    private static byte[] Line<T>(T value, JsonTypeInfo<T> type)
        => Encoding.UTF8.GetBytes(Redaction.Apply(JsonSerializer.Serialize(value, type)) + "\n");
}
