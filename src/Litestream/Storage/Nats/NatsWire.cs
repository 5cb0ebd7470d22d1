using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;

namespace Litestream.Storage.Nats;

/// <summary>A message delivered to one of our inboxes; <see cref="Status"/> is the header line's status (503: no responders), 0 for none.</summary>
internal readonly record struct NatsReply(int Status, byte[] Payload);

/// <summary>How to reach and log in to a server.</summary>
internal sealed record NatsWireOptions(string Host, int Port, bool RequireTls, X509Certificate2Collection? RootCas, X509Certificate2? ClientCertificate, NatsLogin Login, TimeSpan ConnectTimeout);

/// <summary>
/// One connection speaking the NATS text protocol (docs.nats.io "Client Protocol"): INFO, optional TLS upgrade,
/// CONNECT + PING/PONG to log in, then PUB/HPUB requests whose replies arrive as MSG/HMSG on one inbox
/// subscription, and PONG for the server's PING. Only what the object store needs: request-reply, no
/// subscriptions of the caller's own. A connection that fails is closed for good (<see cref="IsClosed"/>); the
/// replica client connects afresh for its next request. Frames are bounded by the server's max_payload.
/// </summary>
internal sealed class NatsWire : IAsyncDisposable
{
    /// <summary>The longest control line accepted (INFO carries the server's URLs and nonce).</summary>
    private const int MaxLine = 64 * 1024;

    private readonly Socket _socket;
    private readonly Stream _stream;
    private readonly NatsFrameReader _reader;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly ConcurrentDictionary<string, TaskCompletionSource<NatsReply>> _pending = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _closing = new();
    private readonly string _inbox;
    private readonly int _maxPayload;
    private Task _readLoop = Task.CompletedTask;
    private long _nextReply;
    private Exception? _closedBy;

    private NatsWire(Socket socket, Stream stream, NatsFrameReader reader, int maxPayload)
    {
        _socket = socket;
        _stream = stream;
        _reader = reader;
        _maxPayload = maxPayload;
        _inbox = "_INBOX." + Nuid.Next() + ".";
    }

    /// <summary>The largest message the server accepts.</summary>
    public int MaxPayload => _maxPayload;

    /// <summary>True once the connection failed or was disposed: every request fails, so it must be replaced.</summary>
    public bool IsClosed => Volatile.Read(ref _closedBy) is not null;

    /// <summary>Connects, upgrades to TLS when either side asks, logs in; all within the connect timeout.</summary>
    /// <exception cref="NatsException">The server refused the login (its -ERR text) or did not answer in time.</exception>
    public static async Task<NatsWire> ConnectAsync(NatsWireOptions options, CancellationToken cancellationToken)
    {
        // Its own timer: when the caller's deadline (a longer one) has passed too by the time a busy machine runs this
        // catch, the connect timeout still fired first and is what the error names.
        using var connectTimer = new CancellationTokenSource(options.ConnectTimeout);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, connectTimer.Token);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        Stream? stream = null;
        try
        {
            await socket.ConnectAsync(options.Host, options.Port, timeout.Token).ConfigureAwait(false);
            stream = new NetworkStream(socket, ownsSocket: false);
            var reader = new NatsFrameReader(stream);
            string infoLine = await reader.ReadLineAsync(MaxLine, timeout.Token).ConfigureAwait(false);
            if (!infoLine.StartsWith("INFO ", StringComparison.Ordinal))
            {
                throw new NatsException($"not a NATS server (it began with \"{Truncate(infoLine)}\")");
            }
            ServerInfo info = ServerInfo.Parse(infoLine.AsSpan(5));
            bool tls = options.RequireTls || info.TlsRequired;
            if (tls)
            {
                var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
                stream = ssl;
                await ssl.AuthenticateAsClientAsync(TlsOptions(options), timeout.Token).ConfigureAwait(false);
                reader = new NatsFrameReader(ssl);
            }
            var wire = new NatsWire(socket, stream, reader, info.MaxPayload);
            await wire.LogInAsync(options.Login, info.Nonce, tls, timeout.Token).ConfigureAwait(false);
            wire._readLoop = Task.Run(wire.ReadLoopAsync, CancellationToken.None);
            return wire;
        }
        catch (OperationCanceledException) when (connectTimer.IsCancellationRequested)
        {
            await DisposeQuietly(stream, socket).ConfigureAwait(false);
            throw new NatsException($"connect to {ReplicaHost.Format(options.Host, options.Port)} timed out");
        }
        catch
        {
            await DisposeQuietly(stream, socket).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Publishes <paramref name="payload"/> (with <paramref name="headers"/>, a NATS/1.0 header block, when not empty)
    /// to <paramref name="subject"/> and waits for the one reply.
    /// </summary>
    /// <exception cref="NatsNoRespondersException">Nobody listens on the subject.</exception>
    public async Task<NatsReply> RequestAsync(string subject, ReadOnlyMemory<byte> headers, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        ThrowIfClosed();
        string reply = _inbox + Interlocked.Increment(ref _nextReply).ToString(CultureInfo.InvariantCulture);
        var answer = new TaskCompletionSource<NatsReply>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[reply] = answer;
        try
        {
            // A connection that closed between the check above and the registration has failed this one already.
            if (IsClosed)
            {
                ThrowIfClosed();
            }
            await SendAsync(BuildPublish(subject, reply, headers, payload), cancellationToken).ConfigureAwait(false);
            NatsReply result = await answer.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            return result.Status == 503 ? throw new NatsNoRespondersException() : result;
        }
        finally
        {
            _pending.TryRemove(reply, out _);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        Close(new ObjectDisposedException(nameof(NatsWire)));
        try
        {
            await _readLoop.ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException or NatsException or SocketException)
        {
            // The loop ends with the socket; its error is already every pending request's.
        }
    }

    private async Task LogInAsync(NatsLogin login, string? nonce, bool tls, CancellationToken cancellationToken)
    {
        var connect = new ArrayBufferWriter<byte>(512);
        connect.Write("CONNECT "u8);
        using (var json = new Utf8JsonWriter(connect))
        {
            json.WriteStartObject();
            json.WriteBoolean("verbose", false);
            json.WriteBoolean("pedantic", false);
            json.WriteBoolean("tls_required", tls);
            json.WriteString("name", "litestream");
            json.WriteString("lang", ".NET");
            json.WriteString("version", "litestream-aot");
            json.WriteNumber("protocol", 1);
            json.WriteBoolean("headers", true);
            json.WriteBoolean("no_responders", true);
            login.Write(json, nonce);
            json.WriteEndObject();
        }
        // The inbox subscription goes before the PING: its PONG means the server has it before any request.
        connect.Write(Encoding.ASCII.GetBytes($"\r\nSUB {_inbox}* 1\r\nPING\r\n"));
        await SendAsync(connect.WrittenMemory, cancellationToken).ConfigureAwait(false);
        while (true)
        {
            string line = await _reader.ReadLineAsync(MaxLine, cancellationToken).ConfigureAwait(false);
            if (line == "PONG")
            {
                return;
            }
            if (line.StartsWith("-ERR", StringComparison.Ordinal))
            {
                throw new NatsException(ServerError(line));
            }
            // +OK, INFO (cluster updates) and PING before our PONG carry nothing the login needs.
            if (line == "PING")
            {
                await SendAsync("PONG\r\n"u8.ToArray(), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task ReadLoopAsync()
    {
        try
        {
            while (!_closing.IsCancellationRequested)
            {
                string line = await _reader.ReadLineAsync(MaxLine, _closing.Token).ConfigureAwait(false);
                if (line.StartsWith("MSG ", StringComparison.Ordinal) || line.StartsWith("HMSG ", StringComparison.Ordinal))
                {
                    await ReceiveAsync(line).ConfigureAwait(false);
                }
                else if (line == "PING")
                {
                    await SendAsync("PONG\r\n"u8.ToArray(), _closing.Token).ConfigureAwait(false);
                }
                else if (line.StartsWith("-ERR", StringComparison.Ordinal))
                {
                    // A permissions violation leaves the connection open, but the request it answers gets no reply.
                    var error = new NatsException(ServerError(line));
                    if (!line.Contains("permissions violation", StringComparison.OrdinalIgnoreCase))
                    {
                        throw error;
                    }
                    FailPending(error);
                }
            }
        }
        catch (Exception e)
        {
            Close(e is OperationCanceledException && _closing.IsCancellationRequested ? new ObjectDisposedException(nameof(NatsWire)) : e);
        }
    }

    private async Task ReceiveAsync(string line)
    {
        // MSG <subject> <sid> [reply] <size> | HMSG <subject> <sid> [reply] <header size> <total size>
        string[] parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        bool headed = parts[0] == "HMSG";
        if (parts.Length < (headed ? 5 : 4)
            || !int.TryParse(parts[^1], NumberStyles.None, CultureInfo.InvariantCulture, out int total)
            || total > _maxPayload + MaxLine)
        {
            throw new NatsException($"malformed message frame \"{Truncate(line)}\"");
        }
        int headerSize = 0;
        if (headed && (!int.TryParse(parts[^2], NumberStyles.None, CultureInfo.InvariantCulture, out headerSize) || headerSize > total))
        {
            throw new NatsException($"malformed message frame \"{Truncate(line)}\"");
        }
        byte[] frame = await _reader.ReadBlockAsync(total, _closing.Token).ConfigureAwait(false);
        int status = headed ? StatusOf(frame.AsSpan(0, headerSize)) : 0;
        if (_pending.TryRemove(parts[1], out TaskCompletionSource<NatsReply>? answer))
        {
            answer.TrySetResult(new NatsReply(status, headerSize == 0 ? frame : frame[headerSize..]));
        }
    }

    /// <summary>The status code of a header block's first line (<c>NATS/1.0 503</c>), 0 for none.</summary>
    private static int StatusOf(ReadOnlySpan<byte> headers)
    {
        int end = headers.IndexOf("\r\n"u8);
        ReadOnlySpan<byte> first = end < 0 ? headers : headers[..end];
        return first.Length >= 12 && first.StartsWith("NATS/1.0 "u8) && int.TryParse(first.Slice(9, 3), NumberStyles.None, CultureInfo.InvariantCulture, out int status)
            ? status
            : 0;
    }

    private byte[] BuildPublish(string subject, string reply, ReadOnlyMemory<byte> headers, ReadOnlyMemory<byte> payload)
    {
        if (headers.Length + payload.Length > _maxPayload)
        {
            throw new NatsException($"message of {headers.Length + payload.Length} bytes exceeds the server's max_payload of {_maxPayload}");
        }
        string head = headers.IsEmpty
            ? $"PUB {subject} {reply} {payload.Length}\r\n"
            : $"HPUB {subject} {reply} {headers.Length} {headers.Length + payload.Length}\r\n";
        byte[] frame = new byte[Encoding.ASCII.GetByteCount(head) + headers.Length + payload.Length + 2];
        int at = Encoding.ASCII.GetBytes(head, frame);
        headers.Span.CopyTo(frame.AsSpan(at));
        payload.Span.CopyTo(frame.AsSpan(at + headers.Length));
        "\r\n"u8.CopyTo(frame.AsSpan(frame.Length - 2));
        return frame;
    }

    private async Task SendAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ThrowIfClosed();
            await _stream.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
            await _stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException)
        {
            // A write cut short leaves a partial frame on the wire: the connection cannot be used again.
            Close(e);
            throw;
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private void Close(Exception reason)
    {
        if (Interlocked.CompareExchange(ref _closedBy, reason, null) is not null)
        {
            return;
        }
        try
        {
            _closing.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
        _socket.Dispose();
        FailPending(reason);
    }

    private void FailPending(Exception reason)
    {
        foreach (string key in _pending.Keys)
        {
            if (_pending.TryRemove(key, out TaskCompletionSource<NatsReply>? answer))
            {
                answer.TrySetException(reason is NatsException ? reason : new NatsException("connection closed: " + reason.Message, reason));
            }
        }
    }

    private void ThrowIfClosed()
    {
        if (Volatile.Read(ref _closedBy) is { } reason)
        {
            throw reason is NatsException ? new NatsException(reason.Message, reason) : new NatsException("connection closed: " + reason.Message, reason);
        }
    }

    private static SslClientAuthenticationOptions TlsOptions(NatsWireOptions options)
    {
        var tls = new SslClientAuthenticationOptions { TargetHost = options.Host };
        if (options.ClientCertificate is { } certificate)
        {
            tls.ClientCertificates = [certificate];
        }
        if (options.RootCas is { Count: > 0 } roots)
        {
            // Only the given authorities sign the server's certificate (root-cas), not the system's.
            tls.CertificateChainPolicy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust };
            tls.CertificateChainPolicy.CustomTrustStore.AddRange(roots);
        }
        return tls;
    }

    /// <summary>The text of <c>-ERR 'Authorization Violation'</c>.</summary>
    private static string ServerError(string line) => line.Length > 4 ? line[4..].Trim().Trim('\'') : "server error";

    private static string Truncate(string text) => text.Length > 80 ? text[..80] + "…" : text;

    private static async ValueTask DisposeQuietly(Stream? stream, Socket socket)
    {
        if (stream is not null)
        {
            await stream.DisposeAsync().ConfigureAwait(false);
        }
        socket.Dispose();
    }

    /// <summary>The fields of the server's INFO line a client needs.</summary>
    private readonly record struct ServerInfo(bool TlsRequired, string? Nonce, int MaxPayload)
    {
        public static ServerInfo Parse(ReadOnlySpan<char> json)
        {
            try
            {
                using JsonDocument document = JsonDocument.Parse(json.ToString());
                JsonElement root = document.RootElement;
                bool tls = root.TryGetProperty("tls_required", out JsonElement t) && t.ValueKind == JsonValueKind.True;
                string? nonce = root.TryGetProperty("nonce", out JsonElement n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null;
                int max = root.TryGetProperty("max_payload", out JsonElement m) && m.TryGetInt32(out int v) && v > 0 ? v : 1024 * 1024;
                return new ServerInfo(tls, nonce, max);
            }
            catch (JsonException e)
            {
                throw new NatsException("the server's INFO is not valid JSON", e);
            }
        }
    }
}
