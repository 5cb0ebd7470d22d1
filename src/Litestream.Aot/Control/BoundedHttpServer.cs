using System.Buffers;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;

namespace Litestream.Aot.Control;

/// <summary>
/// An answer to one request: status, body and its media type; or, with <see cref="Stream"/>, a body written as it
/// comes (no length, it ends when the connection closes), by a function given the connection and a token cancelled
/// when the server stops or the client goes away.
/// </summary>
internal readonly record struct HttpAnswer(int Status, byte[] Body, string ContentType, Func<Stream, CancellationToken, Task>? Stream = null);

/// <summary>
/// HTTP/1.1 on a bound, listening socket (the control socket's Unix socket, the <c>addr</c> TCP port), one request
/// per connection (<c>Connection: close</c>), bounded against hostile or broken clients: at most
/// <see cref="MaxConnections"/> at once (past it a 503 without reading the request), a request must arrive whole
/// within 10 s (408; slowloris, idle connections), its size is capped by <see cref="ControlRequestReader"/>
/// (431, 413, 400, 501), and running out of file descriptors pauses accepting instead of ending it.
/// </summary>
internal sealed class BoundedHttpServer : IAsyncDisposable
{
    /// <summary>Connections served at once; past it a client is answered 503 at once.</summary>
    internal const int MaxConnections = 64;

    /// <summary>A request must arrive whole within this (slowloris, idle connections), each write of an answer be taken within this.</summary>
    internal static readonly TimeSpan IoTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan s_maxAcceptBackoff = TimeSpan.FromSeconds(1);

    private readonly Socket _listener;
    private readonly string _name;
    private readonly Func<ControlRequest, CancellationToken, Task<HttpAnswer>> _handle;
    private readonly Func<int, string, HttpAnswer> _error;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accept;
    private int _connections;
    private readonly ControlRequestReader.Authorizer? _authorize;

    /// <summary>
    /// Serves <paramref name="listener"/> (owned from here on) until disposed: each request goes to
    /// <paramref name="handle"/> (its token is cancelled when the server stops); a refused request is answered with
    /// <paramref name="error"/>'s body for the status and message. <paramref name="name"/> names the server in logs.
    /// With <paramref name="authorize"/>, a request whose <c>Authorization</c> header it refuses is answered 401
    /// before its body is read.
    /// </summary>
    public BoundedHttpServer(Socket listener, string name, Func<ControlRequest, CancellationToken, Task<HttpAnswer>> handle, Func<int, string, HttpAnswer> error, ILogger logger,
        ControlRequestReader.Authorizer? authorize = null)
    {
        _authorize = authorize;
        _listener = listener;
        _name = name;
        _handle = handle;
        _error = error;
        _logger = logger;
        _accept = Task.Run(AcceptLoopAsync);
    }

    /// <summary>Cancelled when the server stops: handlers waiting on something give up with it.</summary>
    public CancellationToken Stopping => _stop.Token;

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        await _accept.ConfigureAwait(false);
        _stop.Dispose();
    }

    /// <summary>The reason phrase of a status this project answers with.</summary>
    public static string Reason(int status) => status switch
    {
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Request Entity Too Large",
        415 => "Unsupported Media Type",
        423 => "Locked",
        431 => "Request Header Fields Too Large",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    };

    /// <summary>
    /// Accepts until disposed. A failed accept (EMFILE: the process is out of file descriptors) is logged once per
    /// episode and retried with backoff, never the end of the loop: the server must answer again once descriptors
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
                    _logger.Log(LogLevel.Error, default, $"{_name}: cannot accept connections: {e.Message}; retrying", null, static (s, _) => s);
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
                _logger.Log(LogLevel.Information, default, $"{_name}: accepting connections again", null, static (s, _) => s);
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
            (HttpAnswer answer, bool unread)? answer = await AnswerAsync(stream).ConfigureAwait(false);
            if (answer is { } a)
            {
                await RespondAsync(client, stream, a.answer, a.unread).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException)
        {
            // The client went away or the server is stopping: nothing to answer.
        }
        catch (Exception e)
        {
            _logger.Log(LogLevel.Error, default, $"{_name}: {e.Message}", null, static (s, _) => s);
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
            await RespondAsync(client, stream, _error(503, $"too many connections (at most {MaxConnections})"), unread: true).ConfigureAwait(false);
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
    private async Task<(HttpAnswer Answer, bool Unread)?> AnswerAsync(NetworkStream stream)
    {
        ControlRequest? request;
        using (var reading = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token))
        {
            reading.CancelAfter(IoTimeout);
            try
            {
                request = await new ControlRequestReader(stream, _authorize).ReadAsync(reading.Token).ConfigureAwait(false);
            }
            catch (ControlException e)
            {
                return (_error(e.Status, e.Message), true);
            }
            catch (OperationCanceledException) when (!_stop.IsCancellationRequested)
            {
                return (_error(408, $"request not received within {GoDuration.Format(IoTimeout)}"), true);
            }
        }
        return request is null ? null : (await _handle(request, _stop.Token).ConfigureAwait(false), false);
    }

    /// <summary>
    /// A streamed answer: the head without a length, then <paramref name="streamer"/> writes until it returns, the
    /// server stops, or the client closes its end (a read of 0 bytes: the request was read whole, so the client
    /// sends nothing more) or resets.
    /// </summary>
    private async Task StreamAsync(NetworkStream stream, HttpAnswer answer, Func<Stream, CancellationToken, Task> streamer)
    {
        using var streaming = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        using (var deadline = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token))
        {
            deadline.CancelAfter(IoTimeout);
            string head = $"HTTP/1.1 {answer.Status.ToString(CultureInfo.InvariantCulture)} {Reason(answer.Status)}\r\nContent-Type: {answer.ContentType}\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n";
            await stream.WriteAsync(Encoding.ASCII.GetBytes(head), deadline.Token).ConfigureAwait(false);
        }
        Task gone = WatchClosedAsync(stream, streaming);
        try
        {
            await streamer(stream, streaming.Token).ConfigureAwait(false);
        }
        finally
        {
            await streaming.CancelAsync().ConfigureAwait(false);
            await gone.ConfigureAwait(false);
        }
    }

    /// <summary>Cancels <paramref name="streaming"/> when the client closes or resets the connection.</summary>
    private static async Task WatchClosedAsync(NetworkStream stream, CancellationTokenSource streaming)
    {
        byte[] sink = new byte[256];
        try
        {
            while (await stream.ReadAsync(sink, streaming.Token).ConfigureAwait(false) > 0)
            {
                // A client has nothing to send after its request; whatever it sends is dropped.
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
        try
        {
            await streaming.CancelAsync().ConfigureAwait(false);
        }
        catch (ObjectDisposedException)
        {
        }
    }

    /// <summary>
    /// Writes the answer and closes. When part of the request may be <paramref name="unread"/> (it was refused),
    /// the rest is read and dropped for a moment first: closing a socket with unread data resets the client,
    /// which might then not see the answer.
    /// </summary>
    private async Task RespondAsync(Socket client, NetworkStream stream, HttpAnswer answer, bool unread)
    {
        if (answer.Stream is { } streamer)
        {
            await StreamAsync(stream, answer, streamer).ConfigureAwait(false);
            return;
        }
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        deadline.CancelAfter(IoTimeout);
        string head = $"HTTP/1.1 {answer.Status.ToString(CultureInfo.InvariantCulture)} {Reason(answer.Status)}\r\nContent-Type: {answer.ContentType}\r\nContent-Length: {answer.Body.Length.ToString(CultureInfo.InvariantCulture)}\r\nConnection: close\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head), deadline.Token).ConfigureAwait(false);
        await stream.WriteAsync(answer.Body, deadline.Token).ConfigureAwait(false);
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
}
