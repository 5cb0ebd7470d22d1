using System.Buffers;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Litestream.Aot.Cli;
using Microsoft.Extensions.Logging;

namespace Litestream.Aot.Control;

/// <summary>
/// The daemon's control socket (upstream <c>Server</c> in server.go): HTTP/1.1 over a Unix socket, one request
/// per connection (<c>Connection: close</c>), JSON bodies from <see cref="ControlJsonContext"/>. A stale socket
/// file left by a crashed daemon is replaced; a live one (another daemon answering) is an error.
/// </summary>
internal sealed class ControlServer : IAsyncDisposable
{
    private const int MaxHeadBytes = 16 * 1024;
    private const int MaxBodyBytes = 1024 * 1024;
    private static readonly TimeSpan s_defaultTimeout = TimeSpan.FromSeconds(30);

    private readonly ReplicationDaemon _daemon;
    private readonly ILogger _logger;
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accept;

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

    private async Task AcceptLoopAsync()
    {
        var connections = new List<Task>();
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                break;
            }
            connections.RemoveAll(t => t.IsCompleted);
            connections.Add(ServeAsync(client));
        }
        await Task.WhenAll(connections).ConfigureAwait(false);
    }

    private async Task ServeAsync(Socket client)
    {
        await using var stream = new NetworkStream(client, ownsSocket: true);
        try
        {
            (int status, byte[] body) = await HandleAsync(stream).ConfigureAwait(false);
            string head = $"HTTP/1.1 {status.ToString(CultureInfo.InvariantCulture)} {Reason(status)}\r\nContent-Type: application/json\r\nContent-Length: {body.Length.ToString(CultureInfo.InvariantCulture)}\r\nConnection: close\r\n\r\n";
            await stream.WriteAsync(Encoding.ASCII.GetBytes(head), _stop.Token).ConfigureAwait(false);
            await stream.WriteAsync(body, _stop.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException)
        {
            // The client went away or the daemon is stopping: nothing to answer.
        }
        catch (Exception e)
        {
            _logger.Log(LogLevel.Error, default, $"control socket: {e.Message}", null, static (s, _) => s);
        }
    }

    private async Task<(int Status, byte[] Body)> HandleAsync(NetworkStream stream)
    {
        (string method, string target, byte[] body)? request = await ReadRequestAsync(stream).ConfigureAwait(false);
        if (request is not { } r)
        {
            return Error(400, "malformed request");
        }
        string route = r.target.Split('?', 2)[0];
        try
        {
            return (r.method, route) switch
            {
                ("GET", "/info") => Ok(new InfoResponse(VersionCommand.Version, Environment.ProcessId, (long)(DateTimeOffset.UtcNow - _daemon.StartedAt).TotalSeconds, ControlJsonContext.FormatTime(_daemon.StartedAt), _daemon.Count), ControlJsonContext.Wire.InfoResponse),
                ("GET", "/list") => Ok(new ListResponse([.. _daemon.List()]), ControlJsonContext.Wire.ListResponse),
                ("GET", "/txid") => Ok(new TxidResponse(_daemon.Txid(RequirePath(Query(r.target, "path")))), ControlJsonContext.Wire.TxidResponse),
                ("POST", "/start") => await StartStopAsync(r.body, start: true).ConfigureAwait(false),
                ("POST", "/stop") => await StartStopAsync(r.body, start: false).ConfigureAwait(false),
                ("POST", "/sync") => await SyncAsync(r.body).ConfigureAwait(false),
                ("POST", "/register") => await RegisterAsync(r.body).ConfigureAwait(false),
                ("POST", "/unregister") => await UnregisterAsync(r.body).ConfigureAwait(false),
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
        // Upstream: -wait without a timeout waits at most 30 s; a plain sync has no deadline of its own.
        int seconds = request.Wait && request.Timeout <= 0 ? 30 : request.Timeout;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        if (seconds > 0)
        {
            deadline.CancelAfter(TimeSpan.FromSeconds(seconds));
        }
        try
        {
            return Ok(await _daemon.SyncAsync(path, request.Wait, deadline.Token).ConfigureAwait(false), ControlJsonContext.Wire.SyncResponse);
        }
        catch (OperationCanceledException) when (!_stop.IsCancellationRequested)
        {
            throw new ControlException(500, $"sync of {path} did not finish within {seconds}s");
        }
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

    /// <summary>Compact JSON and a newline, as Go's <c>json.NewEncoder(w).Encode(v)</c> writes.</summary>
    private static byte[] Line<T>(T value, JsonTypeInfo<T> type)
    {
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(value, type);
        byte[] line = new byte[json.Length + 1];
        json.CopyTo(line, 0);
        line[^1] = (byte)'\n';
        return line;
    }

    private static string Reason(int status) => status switch
    {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        _ => "Internal Server Error",
    };

    /// <summary>Reads the request line, headers and a Content-Length or chunked body; null when malformed.</summary>
    private async Task<(string, string, byte[])?> ReadRequestAsync(NetworkStream stream)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(MaxHeadBytes);
        try
        {
            int filled = 0, headEnd;
            while ((headEnd = buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8)) < 0)
            {
                if (filled == MaxHeadBytes)
                {
                    return null;
                }
                int n = await stream.ReadAsync(buffer.AsMemory(filled, MaxHeadBytes - filled), _stop.Token).ConfigureAwait(false);
                if (n == 0)
                {
                    return null;
                }
                filled += n;
            }
            string[] lines = Encoding.ASCII.GetString(buffer, 0, headEnd).Split("\r\n");
            string[] requestLine = lines[0].Split(' ');
            if (requestLine.Length != 3 || !requestLine[2].StartsWith("HTTP/1.", StringComparison.Ordinal))
            {
                return null;
            }
            long length = 0;
            bool chunked = false;
            foreach (string header in lines.AsSpan(1))
            {
                int colon = header.IndexOf(':', StringComparison.Ordinal);
                if (colon <= 0)
                {
                    return null;
                }
                string name = header[..colon].Trim(), value = header[(colon + 1)..].Trim();
                if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase) && !long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out length))
                {
                    return null;
                }
                chunked |= name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase) && value.Contains("chunked", StringComparison.OrdinalIgnoreCase);
            }
            var rest = new MemoryStream();
            rest.Write(buffer, headEnd + 4, filled - headEnd - 4);
            byte[]? body = chunked
                ? await ReadChunkedAsync(stream, rest).ConfigureAwait(false)
                : await ReadExactAsync(stream, rest, length).ConfigureAwait(false);
            return body is null ? null : (requestLine[0], requestLine[1], body);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task<byte[]?> ReadExactAsync(NetworkStream stream, MemoryStream received, long length)
    {
        if (length > MaxBodyBytes)
        {
            return null;
        }
        byte[] chunk = new byte[4096];
        while (received.Length < length)
        {
            int n = await stream.ReadAsync(chunk, _stop.Token).ConfigureAwait(false);
            if (n == 0)
            {
                return null;
            }
            received.Write(chunk, 0, n);
        }
        return received.GetBuffer().AsSpan(0, (int)length).ToArray();
    }

    private async Task<byte[]?> ReadChunkedAsync(NetworkStream stream, MemoryStream received)
    {
        // Everything up to the terminating zero-size chunk, then decode (bodies here are a few hundred bytes).
        byte[] chunk = new byte[4096];
        while (!Terminated(received.GetBuffer().AsSpan(0, (int)received.Length)))
        {
            if (received.Length > MaxBodyBytes)
            {
                return null;
            }
            int n = await stream.ReadAsync(chunk, _stop.Token).ConfigureAwait(false);
            if (n == 0)
            {
                return null;
            }
            received.Write(chunk, 0, n);
        }
        ReadOnlySpan<byte> data = received.GetBuffer().AsSpan(0, (int)received.Length);
        var body = new MemoryStream();
        while (true)
        {
            int eol = data.IndexOf("\r\n"u8);
            string sizeText = Encoding.ASCII.GetString(data[..eol]).Split(';')[0].Trim();
            if (!int.TryParse(sizeText, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int size) || size < 0 || eol + 2 + size > data.Length)
            {
                return null;
            }
            if (size == 0)
            {
                return body.ToArray();
            }
            body.Write(data.Slice(eol + 2, size));
            data = data[(eol + 2 + size + 2)..];
        }

        static bool Terminated(ReadOnlySpan<byte> data) => data.StartsWith("0\r\n\r\n"u8) || data.IndexOf("\r\n0\r\n\r\n"u8) >= 0;
    }
}
