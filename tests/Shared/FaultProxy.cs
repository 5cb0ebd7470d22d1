using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Litestream.Testing;

/// <summary>
/// A loopback HTTP/1.1 proxy in front of a server (s3rver) that sees every request, so it can count them
/// and fault any one of them: the first <see cref="FailFirst"/> requests, every request while
/// <see cref="FailAlways"/> is set, or while a fault is switched on at run time with <see cref="Inject"/>.
/// A faulted request gets an S3 error response (500 InternalError or 503 SlowDown) and its connection
/// closed, or the connection reset without an answer; a <see cref="Fault.SlowBody"/> request is relayed
/// but its response trickles back; a stalled request (<see cref="Fault.StallAtConnect"/>,
/// <see cref="Fault.StallInHeaders"/>, <see cref="Fault.StallInBody"/>) gets its connection frozen: nothing
/// more is read from the client or sent to it, and the connection stays open until the client gives up
/// (a dead server or a black-holing middlebox). Everything else is relayed byte for byte (request
/// signatures stay valid), keep-alive included.
/// </summary>
public sealed class FaultProxy : IAsyncDisposable
{
    /// <summary>What a faulted request gets.</summary>
    public enum Fault
    {
        /// <summary>HTTP 500 with S3's InternalError body.</summary>
        InternalError,
        /// <summary>HTTP 503 with S3's SlowDown (throttling) body.</summary>
        SlowDown,
        /// <summary>The connection is reset without any response.</summary>
        Drop,
        /// <summary>
        /// The request head and the first half of its body reach the server, then both connections are reset: an
        /// upload cut off mid-way (the server sees a request that ends early, the client no answer).
        /// </summary>
        CutRequestBody,
        /// <summary>The request is relayed; the response comes back at about 20 KB/s.</summary>
        SlowBody,
        /// <summary>
        /// A strict S3-compatible provider (as Backblaze B2, older MinIO, Alibaba OSS and others behave): a request
        /// carrying the AWS SDK's flexible checksums (<c>x-amz-checksum-*</c>, <c>x-amz-sdk-checksum-algorithm</c>,
        /// <c>x-amz-trailer</c>), an aws-chunked or chunked body, or a multi-object delete without Content-MD5
        /// fails with 400 and the reason (see <see cref="StrictViolations"/>); everything else is relayed.
        /// </summary>
        StrictProvider,
        /// <summary>The request head is read, then nothing: its body is not read (an upload blocks) and no response comes.</summary>
        StallAtConnect,
        /// <summary>The request is relayed; the first bytes of the response's status line come back, then nothing.</summary>
        StallInHeaders,
        /// <summary>The request is relayed; the response headers and half its body come back, then nothing.</summary>
        StallInBody,
    }

    /// <summary>Bytes of a response relayed before a <see cref="Fault.StallInHeaders"/> stall.</summary>
    public const int HeaderBytesBeforeStall = 12;

    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly int _targetPort;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private readonly ConcurrentQueue<string> _log = new();
    private readonly ConcurrentQueue<string> _violations = new();
    private int _requests;
    private int _faults;
    private int _stalled;
    private volatile Injection? _injected;
    private volatile RequestHold? _hold;

    public FaultProxy(int targetPort, Fault fault = Fault.InternalError, int failFirst = 0, bool failAlways = false)
    {
        _targetPort = targetPort;
        Mode = fault;
        FailFirst = failFirst;
        FailAlways = failAlways;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    /// <summary>
    /// Implements S3's conditional writes in front of a server that ignores them (s3rver): a PUT carrying
    /// <c>If-None-Match: *</c> or <c>If-Match: &lt;etag&gt;</c> is checked against the object's ETag (a HEAD to the
    /// server) and answered 412 PreconditionFailed when it does not hold; check and write run under one lock, so two
    /// conditional writers through this proxy are serialised as S3 serialises them. The same for GCS's multipart
    /// uploads with <c>ifGenerationMatch=</c> (firebase-tools' emulator ignores it): checked against the object's
    /// generation (0: none), read from the JSON API.
    /// </summary>
    public bool ConditionalWrites { get; init; }

    /// <summary>Conditional PUTs refused with 412 so far.</summary>
    public int PreconditionFailures => Volatile.Read(ref _preconditionFailures);

    private readonly SemaphoreSlim _conditional = new(1, 1);
    private int _preconditionFailures;

    public Fault Mode { get; }
    public int FailFirst { get; }
    public bool FailAlways { get; }

    public string Endpoint => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    /// <summary>Requests seen so far (faulted ones included).</summary>
    public int Requests => Volatile.Read(ref _requests);

    /// <summary>Requests that were given a fault.</summary>
    public int Faults => Volatile.Read(ref _faults);

    /// <summary>Connections frozen by a stall so far (each one stays open until its client closes it).</summary>
    public int Stalled => Volatile.Read(ref _stalled);

    /// <summary>"METHOD target" of every request so far, in arrival order.</summary>
    public IReadOnlyList<string> RequestLog => [.. _log];

    /// <summary>What <see cref="Fault.StrictProvider"/> rejected: "METHOD /path: reason", in order.</summary>
    public IReadOnlyList<string> StrictViolations => [.. _violations];

    /// <summary>
    /// Faults every following request with <paramref name="fault"/> (only those whose "METHOD target" matches
    /// <paramref name="requests"/>, when given), or stops injecting with null.
    /// </summary>
    public void Inject(Fault? fault, Func<string, bool>? requests = null) => _injected = fault is null ? null : new Injection(fault.Value, requests);

    /// <summary>
    /// Holds every following request whose "METHOD target" matches <paramref name="requests"/> before it is relayed,
    /// until <see cref="RequestHold.Release"/> (a slow store answering late): the test acts while the client waits,
    /// with no timing involved. One hold at a time.
    /// </summary>
    public RequestHold Hold(Func<string, bool> requests) => _hold = new RequestHold(requests, () => _hold = null);

    /// <summary>Requests held back by <see cref="Hold"/>.</summary>
    public sealed class RequestHold : IDisposable
    {
        private readonly TaskCompletionSource _arrived = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly Action _ended;

        internal RequestHold(Func<string, bool> requests, Action ended)
        {
            Requests = requests;
            _ended = ended;
        }

        internal Func<string, bool> Requests { get; }

        /// <summary>Completes when the first held request has arrived (it is waiting now).</summary>
        public Task Arrived => _arrived.Task;

        /// <summary>Relays the held requests and stops holding.</summary>
        public void Release()
        {
            _ended();
            _released.TrySetResult();
        }

        /// <summary>Releases (a test that failed half-way must not leave the client hanging).</summary>
        public void Dispose() => Release();

        internal Task WaitAsync(CancellationToken cancellationToken)
        {
            _arrived.TrySetResult();
            return _released.Task.WaitAsync(cancellationToken);
        }
    }

    /// <summary>
    /// Waits until the proxy has stalled a connection while <paramref name="work"/> still runs, so the work is now
    /// stuck on it; throws when the work ends first or nothing stalls within <paramref name="timeout"/>.
    /// </summary>
    public async Task WaitForStallAsync(Task work, TimeSpan timeout)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (Stalled == 0)
        {
            if (work.IsCompleted)
            {
                throw new InvalidOperationException($"the work ended before any stall: {work.Exception?.InnerException?.Message ?? work.Status.ToString()}");
            }
            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException($"no connection stalled within {timeout}");
            }
            await Task.Delay(20);
        }
        await Task.Delay(200); // the client is waiting on the frozen connection by now
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _accepting;
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // stopping
        }
        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client = await _listener.AcceptTcpClientAsync(_stop.Token);
            _ = Task.Run(() => HandleAsync(client));
        }
    }

    private Fault? Decide(int n, string request) => _injected is Injection injected
        ? injected.Requests is null || injected.Requests(request) ? injected.Fault : null
        : FailAlways || n <= FailFirst ? Mode : null;

    private async Task HandleAsync(TcpClient client)
    {
        TcpClient? upstream = null;
        Task? down = null;
        var shaping = new ResponseShaping();
        using (client)
        {
            try
            {
                NetworkStream stream = client.GetStream();
                byte[] pending = [];
                while (true)
                {
                    (byte[] head, pending) = await ReadHeadAsync(stream, pending);
                    string headers = Encoding.ASCII.GetString(head);
                    int n = Interlocked.Increment(ref _requests);
                    string request = headers[..headers.IndexOf(" HTTP/", StringComparison.Ordinal)];
                    _log.Enqueue(request);
                    if (_hold is { } hold && hold.Requests(request))
                    {
                        await hold.WaitAsync(_stop.Token);
                    }
                    Fault? fault = Decide(n, request);
                    if (fault is Fault.StrictProvider)
                    {
                        if (StrictViolation(headers) is not { } violation)
                        {
                            fault = null;
                        }
                        else
                        {
                            _violations.Enqueue($"{request}: {violation}");
                        }
                    }
                    if (fault is Fault.InternalError or Fault.SlowDown or Fault.Drop or Fault.StrictProvider)
                    {
                        Interlocked.Increment(ref _faults);
                        await FailAsync(client, stream, fault.Value, headers, pending);
                        return;
                    }
                    if (fault is Fault.StallAtConnect)
                    {
                        Interlocked.Increment(ref _faults);
                        shaping.Frozen = true; // nothing more from the server reaches the client, not even its close
                        await StallAsync(stream);
                        return;
                    }
                    if (fault is Fault.SlowBody or Fault.StallInHeaders or Fault.StallInBody)
                    {
                        Interlocked.Increment(ref _faults);
                    }
                    bool gcs = request.StartsWith("POST ", StringComparison.Ordinal) && request.Contains("ifGenerationMatch=", StringComparison.Ordinal);
                    if (ConditionalWrites && fault is null && (gcs || (request.StartsWith("PUT ", StringComparison.Ordinal) && Header(headers, "If-None-Match") is not null | Header(headers, "If-Match") is not null)))
                    {
                        pending = await ConditionalPutAsync(stream, head, headers, pending, gcs);
                        continue;
                    }
                    shaping.Fault = fault;
                    if (upstream is null)
                    {
                        upstream = new TcpClient();
                        await upstream.ConnectAsync(IPAddress.Loopback, _targetPort, _stop.Token);
                        down = RelayResponsesAsync(upstream.GetStream(), stream, shaping);
                    }
                    NetworkStream target = upstream.GetStream();
                    await target.WriteAsync(head, _stop.Token);
                    long body = ContentLength(headers) ?? 0;
                    int now = (int)Math.Min(body, pending.Length);
                    await target.WriteAsync(pending.AsMemory(0, now), _stop.Token);
                    pending = pending[now..];
                    if (fault is Fault.CutRequestBody)
                    {
                        Interlocked.Increment(ref _faults);
                        await CopyExactlyAsync(stream, target, Math.Max(0, body / 2 - now));
                        await Task.Delay(200, _stop.Token); // let the server read what it got before the reset
                        upstream.Client.LingerState = new LingerOption(true, 0);
                        client.Client.LingerState = new LingerOption(true, 0);
                        return;
                    }
                    await CopyExactlyAsync(stream, target, body - now);
                }
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
            {
                // a client or server hung up: nothing to relay any more
            }
            finally
            {
                upstream?.Dispose();
                if (down is not null)
                {
                    await down.ContinueWith(static _ => { }, TaskScheduler.Default);
                }
            }
        }
    }

    private async Task RelayResponsesAsync(NetworkStream from, NetworkStream to, ResponseShaping shaping)
    {
        byte[] buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                bool slow = shaping.Fault is Fault.SlowBody;
                int read = await from.ReadAsync(buffer.AsMemory(0, slow ? 1024 : buffer.Length), _stop.Token);
                if (shaping.Frozen)
                {
                    return;
                }
                if (read == 0)
                {
                    to.Socket.Shutdown(SocketShutdown.Send);
                    return;
                }
                int allowed = shaping.Allow(buffer.AsSpan(0, read));
                await to.WriteAsync(buffer.AsMemory(0, allowed), _stop.Token);
                if (allowed < read)
                {
                    await StallAsync(to);
                    return;
                }
                if (slow)
                {
                    await Task.Delay(50, _stop.Token); // a slow link: the scenario
                }
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // either side hung up
        }
    }

    /// <summary>
    /// Freezes a client connection: nothing is read from it or sent to it any more, and it stays open until the
    /// client closes it (seen as a zero-byte peek once its data, if any, is all that is left) or the proxy stops.
    /// </summary>
    private async Task StallAsync(NetworkStream client)
    {
        Interlocked.Increment(ref _stalled);
        try
        {
            // Poll for the client's close without reading its data: an upload's body stays unread, so its
            // sender blocks once the socket buffers are full, as it would in front of a dead server.
            while (!_stop.IsCancellationRequested)
            {
                await Task.Delay(200, _stop.Token);
                if (client.Socket.Poll(0, SelectMode.SelectRead) && client.Socket.Available == 0)
                {
                    return;
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // the proxy stops
        }
    }

    private async Task CopyExactlyAsync(NetworkStream from, NetworkStream to, long count)
    {
        byte[] buffer = new byte[64 * 1024];
        while (count > 0)
        {
            int read = await from.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, count)), _stop.Token);
            if (read == 0)
            {
                throw new IOException("client closed in the middle of a request body");
            }
            await to.WriteAsync(buffer.AsMemory(0, read), _stop.Token);
            count -= read;
        }
    }

    private async Task FailAsync(TcpClient client, NetworkStream stream, Fault fault, string headers, byte[] rest)
    {
        if (fault == Fault.Drop)
        {
            client.Client.LingerState = new LingerOption(true, 0); // close sends RST
            return;
        }
        // Read the body the client is already sending (unless it waits for 100-continue), so that it
        // sees our response rather than a reset.
        if (!headers.Contains("100-continue", StringComparison.OrdinalIgnoreCase) && ContentLength(headers) is long length)
        {
            long remaining = length - rest.Length;
            byte[] sink = new byte[64 * 1024];
            while (remaining > 0)
            {
                int read = await stream.ReadAsync(sink.AsMemory(0, (int)Math.Min(sink.Length, remaining)), _stop.Token);
                if (read == 0)
                {
                    break;
                }
                remaining -= read;
            }
        }
        (int status, string reason, string code, string message) = fault switch
        {
            Fault.SlowDown => (503, "Slow Down", "SlowDown", "Please reduce your request rate."),
            Fault.StrictProvider => (400, "Bad Request", "InvalidRequest", StrictViolation(headers) ?? ""),
            _ => (500, "Internal Server Error", "InternalError", "We encountered an internal error. Please try again."),
        };
        byte[] body = Encoding.UTF8.GetBytes($"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>fault-{Faults}</RequestId></Error>");
        byte[] response = Encoding.ASCII.GetBytes($"HTTP/1.1 {status} {reason}\r\nContent-Type: application/xml\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n");
        await stream.WriteAsync(response, _stop.Token);
        await stream.WriteAsync(body, _stop.Token);
        await stream.FlushAsync(_stop.Token);
        client.Client.Shutdown(SocketShutdown.Send);
    }

    /// <summary>Why a strict provider refuses this request head, or null when it accepts it.</summary>
    private static string? StrictViolation(string headers)
    {
        string[] lines = headers.Split("\r\n");
        foreach (string line in lines[1..])
        {
            int colon = line.IndexOf(':');
            if (colon <= 0)
            {
                continue;
            }
            string name = line[..colon].Trim().ToLowerInvariant();
            string value = line[(colon + 1)..].Trim();
            if (name.StartsWith("x-amz-checksum-", StringComparison.Ordinal) || name is "x-amz-sdk-checksum-algorithm" or "x-amz-trailer"
                || (name == "content-encoding" && value.Contains("aws-chunked", StringComparison.OrdinalIgnoreCase))
                || (name == "x-amz-content-sha256" && value.StartsWith("STREAMING-", StringComparison.Ordinal))
                || (name == "transfer-encoding" && value.Contains("chunked", StringComparison.OrdinalIgnoreCase)))
            {
                return $"unsupported header {name}: {value}";
            }
        }
        bool multiDelete = lines[0].StartsWith("POST ", StringComparison.Ordinal) && (lines[0].Contains("?delete", StringComparison.Ordinal) || lines[0].Contains("&delete", StringComparison.Ordinal));
        return multiDelete && !Array.Exists(lines, l => l.StartsWith("Content-MD5:", StringComparison.OrdinalIgnoreCase))
            ? "missing Content-MD5 on a multi-object delete"
            : null;
    }

    /// <summary>
    /// A conditional PUT on its own connection to the server: the object's ETag is looked up (HEAD), the condition
    /// checked, then the PUT relayed and its whole response returned to the client. Returns the bytes read past the body.
    /// </summary>
    private async Task<byte[]> ConditionalPutAsync(NetworkStream client, byte[] head, string headers, byte[] pending, bool gcs)
    {
        long length = ContentLength(headers) ?? 0;
        if (Header(headers, "Expect") is { } expect && expect.Equals("100-continue", StringComparison.OrdinalIgnoreCase))
        {
            await client.WriteAsync("HTTP/1.1 100 Continue\r\n\r\n"u8.ToArray(), _stop.Token); // the body comes only after it
        }
        var body = new MemoryStream();
        int now = (int)Math.Min(length, pending.Length);
        body.Write(pending, 0, now);
        pending = pending[now..];
        byte[] chunk = new byte[8192];
        while (body.Length < length)
        {
            int read = await client.ReadAsync(chunk.AsMemory(0, (int)Math.Min(chunk.Length, length - body.Length)), _stop.Token);
            if (read == 0)
            {
                throw new IOException("client closed in the middle of a request body");
            }
            body.Write(chunk, 0, read);
        }
        await _conditional.WaitAsync(_stop.Token);
        try
        {
            using var server = new TcpClient();
            await server.ConnectAsync(IPAddress.Loopback, _targetPort, _stop.Token);
            NetworkStream target = server.GetStream();
            string path = headers[(headers.IndexOf(' ') + 1)..headers.IndexOf(" HTTP/", StringComparison.Ordinal)];
            int query = path.IndexOf('?');
            bool holds = gcs ? await GenerationHoldsAsync(target, headers, path, body.ToArray()) : await EtagHoldsAsync(target, headers, query < 0 ? path : path[..query]);
            if (!holds)
            {
                Interlocked.Increment(ref _preconditionFailures);
                byte[] error = Encoding.UTF8.GetBytes(gcs ? """{"error":{"code":412,"message":"conditionNotMet"}}"""
                    : "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message><Condition>If-Match</Condition></Error>");
                await client.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 412 Precondition Failed\r\nContent-Type: application/{(gcs ? "json" : "xml")}\r\nContent-Length: {error.Length}\r\n\r\n"), _stop.Token);
                await client.WriteAsync(error, _stop.Token);
                return pending;
            }
            await target.WriteAsync(head, _stop.Token);
            await target.WriteAsync(body.ToArray(), _stop.Token);
            (string responseHeaders, byte[] responseBody) = await ReadResponseAsync(target, hasBody: true);
            await client.WriteAsync(Encoding.ASCII.GetBytes(responseHeaders), _stop.Token);
            await client.WriteAsync(responseBody, _stop.Token);
            return pending;
        }
        finally
        {
            _conditional.Release();
        }
    }

    /// <summary>S3: the object's ETag (a HEAD) against <c>If-Match</c>, or its absence for <c>If-None-Match: *</c>.</summary>
    private async Task<bool> EtagHoldsAsync(NetworkStream target, string headers, string path)
    {
        string lookup = $"HEAD {path} HTTP/1.1\r\nHost: {Header(headers, "Host")}\r\nConnection: keep-alive\r\n\r\n";
        await target.WriteAsync(Encoding.ASCII.GetBytes(lookup), _stop.Token);
        (string headHeaders, _) = await ReadResponseAsync(target, hasBody: false);
        string? etag = headHeaders.StartsWith("HTTP/1.1 200", StringComparison.Ordinal) ? Header(headHeaders, "ETag") : null;
        return Header(headers, "If-Match") is { } ifMatch ? etag == ifMatch : etag is null;
    }

    /// <summary>GCS: the object's generation (the JSON API's resource; 0 when there is none) against <c>ifGenerationMatch</c>.</summary>
    private async Task<bool> GenerationHoldsAsync(NetworkStream target, string headers, string path, byte[] body)
    {
        // /upload/storage/v1/b/<bucket>/o?…&ifGenerationMatch=<g>; the name is in the first (JSON) part of the body.
        string bucket = path.Split('/')[5];
        string expected = path[(path.IndexOf("ifGenerationMatch=", StringComparison.Ordinal) + "ifGenerationMatch=".Length)..].Split('&')[0];
        string name = System.Text.RegularExpressions.Regex.Match(Encoding.UTF8.GetString(body), "\"name\"\\s*:\\s*\"([^\"]*)\"").Groups[1].Value;
        string lookup = $"GET /storage/v1/b/{bucket}/o/{Uri.EscapeDataString(name)} HTTP/1.1\r\nHost: {Header(headers, "Host")}\r\nConnection: keep-alive\r\n\r\n";
        await target.WriteAsync(Encoding.ASCII.GetBytes(lookup), _stop.Token);
        (string answer, byte[] resource) = await ReadResponseAsync(target, hasBody: true);
        string generation = answer.StartsWith("HTTP/1.1 200", StringComparison.Ordinal)
            ? System.Text.Json.JsonDocument.Parse(resource).RootElement.GetProperty("generation").GetString() ?? "" : "0";
        return generation == expected;
    }

    /// <summary>One whole response (head, and its Content-Length body when it has one).</summary>
    private async Task<(string Headers, byte[] Body)> ReadResponseAsync(NetworkStream from, bool hasBody)
    {
        (byte[] head, byte[] rest) = await ReadHeadAsync(from, []);
        string headers = Encoding.ASCII.GetString(head);
        while (headers.StartsWith("HTTP/1.1 1", StringComparison.Ordinal))
        {
            (head, rest) = await ReadHeadAsync(from, rest); // interim (100 Continue): the client had its own
            headers = Encoding.ASCII.GetString(head);
        }
        long length = hasBody ? ContentLength(headers) ?? 0 : 0;
        var body = new MemoryStream();
        body.Write(rest, 0, (int)Math.Min(rest.Length, length));
        byte[] chunk = new byte[8192];
        while (body.Length < length)
        {
            int read = await from.ReadAsync(chunk, _stop.Token);
            if (read == 0)
            {
                break;
            }
            body.Write(chunk, 0, read);
        }
        return (headers, body.ToArray());
    }

    private static string? Header(string headers, string name)
    {
        foreach (string line in headers.Split("\r\n"))
        {
            if (line.Length > name.Length && line[name.Length] == ':' && line.StartsWith(name, StringComparison.OrdinalIgnoreCase))
            {
                return line[(name.Length + 1)..].Trim();
            }
        }
        return null;
    }

    private static long? ContentLength(string headers)
    {
        foreach (string line in headers.Split("\r\n"))
        {
            if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
            {
                return long.Parse(line["Content-Length:".Length..].Trim(), CultureInfo.InvariantCulture);
            }
        }
        return null;
    }

    /// <summary>Reads up to the blank line that ends a request head; returns the head and the bytes read past it.</summary>
    private async Task<(byte[] Head, byte[] Body)> ReadHeadAsync(NetworkStream stream, byte[] pending)
    {
        var buffer = new MemoryStream();
        buffer.Write(pending);
        byte[] chunk = new byte[8192];
        while (true)
        {
            byte[] all = buffer.ToArray();
            int end = all.AsSpan().IndexOf("\r\n\r\n"u8);
            if (end >= 0)
            {
                return (all[..(end + 4)], all[(end + 4)..]);
            }
            int read = await stream.ReadAsync(chunk, _stop.Token);
            if (read == 0)
            {
                throw new IOException("client closed before sending a request");
            }
            buffer.Write(chunk, 0, read);
        }
    }

    /// <summary>A fault switched on at run time, for every request or those a filter picks.</summary>
    private sealed record Injection(Fault Fault, Func<string, bool>? Requests);

    /// <summary>
    /// How the response now being relayed on a connection is shaped: trickled (<see cref="Fault.SlowBody"/>), or
    /// cut off after a few bytes of its status line or after half its body (then the connection stalls).
    /// </summary>
    private sealed class ResponseShaping
    {
        private readonly MemoryStream _head = new();
        private Fault? _fault;
        private long _bodyLeft = -1; // body bytes still to relay before a body stall; -1 until the head is complete

        /// <summary>The connection is stalled: the server's bytes and its closing (keep-alive timeout) are dropped.</summary>
        public volatile bool Frozen;

        /// <summary>Set as each request is relayed (one response at a time on a connection: no pipelining).</summary>
        public Fault? Fault
        {
            get => _fault;
            set
            {
                _fault = value;
                _head.SetLength(0);
                _bodyLeft = -1;
            }
        }

        /// <summary>How many of <paramref name="data"/> (the next response bytes) to relay; fewer than all means stall now.</summary>
        public int Allow(ReadOnlySpan<byte> data)
        {
            if (_fault is FaultProxy.Fault.StallInHeaders)
            {
                int take = Math.Min(HeaderBytesBeforeStall - (int)_head.Length, data.Length);
                _head.Write(data[..take]);
                return take;
            }
            if (_fault is not FaultProxy.Fault.StallInBody)
            {
                return data.Length;
            }
            int headPart = 0;
            if (_bodyLeft < 0)
            {
                long before = _head.Length;
                _head.Write(data);
                byte[] all = _head.ToArray();
                int end = all.AsSpan().IndexOf("\r\n\r\n"u8);
                if (end < 0)
                {
                    return data.Length;
                }
                _bodyLeft = (ContentLength(Encoding.ASCII.GetString(all, 0, end + 4)) ?? 0) / 2;
                headPart = (int)(end + 4 - before);
                data = data[headPart..];
            }
            int bodyPart = (int)Math.Min(_bodyLeft, data.Length);
            _bodyLeft -= bodyPart;
            return headPart + bodyPart;
        }
    }
}
