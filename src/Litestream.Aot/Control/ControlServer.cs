using System.Buffers;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Litestream.Aot.Cli;
using Litestream.Storage;
using Microsoft.Extensions.Logging;

namespace Litestream.Aot.Control;

/// <summary>
/// The daemon's control socket (upstream <c>Server</c> in server.go): HTTP/1.1 over a Unix socket, one request
/// per connection (<c>Connection: close</c>), JSON bodies from <see cref="ControlJsonContext"/>. A stale socket
/// file left by a crashed daemon is replaced; a live one (another daemon answering) is an error. Bounded against
/// hostile or broken clients: at most <see cref="MaxConnections"/> at once, a request must arrive whole within
/// 10 s, its size is capped by <see cref="ControlRequestReader"/>, and running out of file descriptors pauses
/// accepting instead of ending it.
/// </summary>
internal sealed class ControlServer : IAsyncDisposable
{
    /// <summary>Connections served at once; past it a client is answered 503 at once.</summary>
    internal const int MaxConnections = 64;

    private static readonly TimeSpan s_defaultTimeout = TimeSpan.FromSeconds(30);
    // A request must arrive whole within this (slowloris, idle connections), an answer be taken within this.
    private static readonly TimeSpan s_ioTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan s_maxAcceptBackoff = TimeSpan.FromSeconds(1);

    private readonly ReplicationDaemon _daemon;
    private readonly ILogger _logger;
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accept;
    private int _connections;

    private ControlServer(string path, Socket listener, ReplicationDaemon daemon, ILogger logger)
    {
        SocketPath = path;
        _listener = listener;
        _daemon = daemon;
        _logger = logger;
        _accept = Task.Run(AcceptLoopAsync);
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

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        await _accept.ConfigureAwait(false);
        try
        {
            File.Delete(SocketPath);
        }
        catch (IOException)
        {
        }
        _stop.Dispose();
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

    /// <summary>
    /// Accepts until disposed. A failed accept (EMFILE: the process is out of file descriptors) is logged once per
    /// episode and retried with backoff, never the end of the loop: the socket must answer again once descriptors
    /// free up. Connections past <see cref="MaxConnections"/> get a 503.
    /// </summary>
    private async Task AcceptLoopAsync()
    {
        var connections = new List<Task>();
        TimeSpan backoff = TimeSpan.Zero;
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException || _stop.IsCancellationRequested)
            {
                break;
            }
            catch (SocketException e)
            {
                if (backoff == TimeSpan.Zero)
                {
                    _logger.Log(LogLevel.Error, default, $"control socket: cannot accept connections: {e.Message}; retrying", null, static (s, _) => s);
                }
                backoff = backoff == TimeSpan.Zero ? TimeSpan.FromMilliseconds(50) : TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, s_maxAcceptBackoff.Ticks));
                try
                {
                    await Task.Delay(backoff, _stop.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
                continue;
            }
            if (backoff != TimeSpan.Zero)
            {
                backoff = TimeSpan.Zero;
                _logger.Log(LogLevel.Information, default, "control socket: accepting connections again", null, static (s, _) => s);
            }
            connections.RemoveAll(t => t.IsCompleted);
            connections.Add(Interlocked.Increment(ref _connections) > MaxConnections ? RejectAsync(client) : ServeAsync(client));
        }
        await Task.WhenAll(connections).ConfigureAwait(false);
    }

    private async Task ServeAsync(Socket client)
    {
        try
        {
            await using var stream = new NetworkStream(client, ownsSocket: true);
            (int status, byte[] body, bool unread)? answer = await AnswerAsync(stream).ConfigureAwait(false);
            if (answer is { } a)
            {
                await RespondAsync(client, stream, a.status, a.body, a.unread).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException)
        {
            // The client went away or the daemon is stopping: nothing to answer.
        }
        catch (Exception e)
        {
            _logger.Log(LogLevel.Error, default, $"control socket: {e.Message}", null, static (s, _) => s);
        }
        finally
        {
            Interlocked.Decrement(ref _connections);
        }
    }

    /// <summary>Over the connection cap: 503 without reading the request.</summary>
    private async Task RejectAsync(Socket client)
    {
        try
        {
            await using var stream = new NetworkStream(client, ownsSocket: true);
            (int status, byte[] body) = Error(503, $"too many control connections (at most {MaxConnections})");
            await RespondAsync(client, stream, status, body, unread: true).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException)
        {
        }
        finally
        {
            Interlocked.Decrement(ref _connections);
        }
    }

    /// <summary>The answer to the request on <paramref name="stream"/>; null when the client sent nothing.</summary>
    private async Task<(int Status, byte[] Body, bool Unread)?> AnswerAsync(NetworkStream stream)
    {
        ControlRequest? request;
        using (var reading = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token))
        {
            reading.CancelAfter(s_ioTimeout);
            try
            {
                request = await new ControlRequestReader(stream).ReadAsync(reading.Token).ConfigureAwait(false);
            }
            catch (ControlException e)
            {
                (int status, byte[] body) = Error(e.Status, e.Message);
                return (status, body, true);
            }
            catch (OperationCanceledException) when (!_stop.IsCancellationRequested)
            {
                (int status, byte[] body) = Error(408, $"request not received within {s_ioTimeout.TotalSeconds:0}s");
                return (status, body, true);
            }
        }
        if (request is null)
        {
            return null;
        }
        (int Status, byte[] Body) answer = await HandleAsync(request).ConfigureAwait(false);
        return (answer.Status, answer.Body, false);
    }

    /// <summary>
    /// Writes the answer and closes. When part of the request may be <paramref name="unread"/> (it was refused),
    /// the rest is read and dropped for a moment first: closing a Unix socket with unread data resets the
    /// client, which might then not see the answer.
    /// </summary>
    private async Task RespondAsync(Socket client, NetworkStream stream, int status, byte[] body, bool unread)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        deadline.CancelAfter(s_ioTimeout);
        string head = $"HTTP/1.1 {status.ToString(CultureInfo.InvariantCulture)} {Reason(status)}\r\nContent-Type: application/json\r\nContent-Length: {body.Length.ToString(CultureInfo.InvariantCulture)}\r\nConnection: close\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head), deadline.Token).ConfigureAwait(false);
        await stream.WriteAsync(body, deadline.Token).ConfigureAwait(false);
        if (!unread)
        {
            return;
        }
        client.Shutdown(SocketShutdown.Send);
        deadline.CancelAfter(TimeSpan.FromMilliseconds(500));
        byte[] sink = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            for (int total = 0; total < 256 * 1024;)
            {
                int read = await stream.ReadAsync(sink, deadline.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }
                total += read;
            }
        }
        catch (OperationCanceledException) when (!_stop.IsCancellationRequested)
        {
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(sink);
        }
    }

    private async Task<(int Status, byte[] Body)> HandleAsync(ControlRequest r)
    {
        string route = r.Target.Split('?', 2)[0];
        try
        {
            return (r.Method, route) switch
            {
                ("GET", "/info") => Ok(new InfoResponse(VersionCommand.Version, Environment.ProcessId, (long)(DateTimeOffset.UtcNow - _daemon.StartedAt).TotalSeconds, ControlJsonContext.FormatTime(_daemon.StartedAt), _daemon.Count), ControlJsonContext.Wire.InfoResponse),
                ("GET", "/list") => Ok(new ListResponse([.. _daemon.List()]), ControlJsonContext.Wire.ListResponse),
                ("GET", "/txid") => Ok(new TxidResponse(_daemon.Txid(RequirePath(Query(r.Target, "path")))), ControlJsonContext.Wire.TxidResponse),
                ("POST", "/start") => await StartStopAsync(r.Body, start: true).ConfigureAwait(false),
                ("POST", "/stop") => await StartStopAsync(r.Body, start: false).ConfigureAwait(false),
                ("POST", "/sync") => await SyncAsync(r.Body).ConfigureAwait(false),
                ("POST", "/register") => await RegisterAsync(r.Body).ConfigureAwait(false),
                ("POST", "/unregister") => await UnregisterAsync(r.Body).ConfigureAwait(false),
                (_, "/info" or "/list" or "/txid" or "/start" or "/stop" or "/sync" or "/register" or "/unregister") => Error(405, "method not allowed"),
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
        catch (Exception e) when (e is not OperationCanceledException || !_stop.IsCancellationRequested)
        {
            return Error(500, Errors.Describe(e));
        }
    }

    private async Task<(int, byte[])> StartStopAsync(byte[] body, bool start)
    {
        PathTimeoutRequest request = Parse(body, ControlJsonContext.Wire.PathTimeoutRequest);
        string path = RequirePath(request.Path);
        TimeSpan timeout = ServerTimeout(request.Timeout);
        StartStopResponse response = start
            ? await _daemon.StartAsync(path, timeout, _stop.Token).ConfigureAwait(false)
            : await _daemon.StopAsync(path, timeout, _stop.Token).ConfigureAwait(false);
        return Ok(response, ControlJsonContext.Wire.StartStopResponse);
    }

    private async Task<(int, byte[])> SyncAsync(byte[] body)
    {
        SyncRequest request = Parse(body, ControlJsonContext.Wire.SyncRequest);
        string path = RequirePath(request.Path);
        // Upstream: -wait without a timeout waits at most 30 s. The daemon's own deadline ends a second before the
        // client's, so a replica that is behind is reported as such rather than as no answer.
        return Ok(await _daemon.SyncAsync(path, request.Wait, ServerTimeout(request.Timeout), _stop.Token).ConfigureAwait(false), ControlJsonContext.Wire.SyncResponse);
    }

    private async Task<(int, byte[])> RegisterAsync(byte[] body)
    {
        RegisterRequest request = Parse(body, ControlJsonContext.Wire.RegisterRequest);
        string path = RequirePath(request.Path);
        if (string.IsNullOrEmpty(request.ReplicaUrl))
        {
            throw new ControlException(400, "replica_url required");
        }
        try
        {
            return Ok(await _daemon.RegisterAsync(path, request.ReplicaUrl, _stop.Token).ConfigureAwait(false), ControlJsonContext.Wire.RegisterResponse);
        }
        catch (Exception e) when (e is ArgumentException or CommandException)
        {
            throw new ControlException(400, $"invalid replica url: {e.Message}");
        }
    }

    private async Task<(int, byte[])> UnregisterAsync(byte[] body)
    {
        PathTimeoutRequest request = Parse(body, ControlJsonContext.Wire.PathTimeoutRequest);
        string path = RequirePath(request.Path);
        TimeSpan timeout = ServerTimeout(request.Timeout);
        return Ok(await _daemon.UnregisterAsync(path, timeout, _stop.Token).ConfigureAwait(false), ControlJsonContext.Wire.UnregisterResponse);
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
        => (status, Line(new ErrorResponse(message, details), ControlJsonContext.Wire.ErrorResponse));

    /// <summary>
    /// Compact JSON and a newline, as Go's <c>json.NewEncoder(w).Encode(v)</c> writes, with no credential in it:
    /// errors quote what failed, and the client prints them.
    /// </summary>
    private static byte[] Line<T>(T value, JsonTypeInfo<T> type)
        => Encoding.UTF8.GetBytes(Redaction.Apply(JsonSerializer.Serialize(value, type)) + "\n");

    private static string Reason(int status) => status switch
    {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Request Entity Too Large",
        423 => "Locked",
        431 => "Request Header Fields Too Large",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    };
}
