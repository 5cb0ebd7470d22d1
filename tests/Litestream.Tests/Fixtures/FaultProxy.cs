using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Litestream.Tests.Fixtures;

/// <summary>
/// A loopback TCP proxy in front of a server that injects faults per connection: the first
/// <see cref="FailFirst"/> connections (or all, with <see cref="FailAlways"/>) get an S3 error response
/// or are dropped after the request head; the rest are relayed byte for byte, so request signatures stay
/// valid. Clients open a new connection after every fault (the response says Connection: close), so a
/// faulted connection is one failed request.
/// </summary>
public sealed class FaultProxy : IAsyncDisposable
{
    /// <summary>What a faulted connection gets.</summary>
    public enum Fault
    {
        /// <summary>HTTP 500 with S3's InternalError body.</summary>
        InternalError,
        /// <summary>HTTP 503 with S3's SlowDown (throttling) body.</summary>
        SlowDown,
        /// <summary>The connection is reset without any response.</summary>
        Drop,
    }

    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly int _targetPort;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private int _connections;
    private int _faults;

    public FaultProxy(int targetPort, Fault fault, int failFirst = 0, bool failAlways = false)
    {
        _targetPort = targetPort;
        Mode = fault;
        FailFirst = failFirst;
        FailAlways = failAlways;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public Fault Mode { get; }
    public int FailFirst { get; }
    public bool FailAlways { get; }

    public string Endpoint => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    /// <summary>Connections accepted so far.</summary>
    public int Connections => Volatile.Read(ref _connections);

    /// <summary>Connections that were given a fault.</summary>
    public int Faults => Volatile.Read(ref _faults);

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

    private async Task HandleAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                NetworkStream stream = client.GetStream();
                (byte[] head, byte[] rest) = await ReadHeadAsync(stream);
                int n = Interlocked.Increment(ref _connections);
                if (FailAlways || n <= FailFirst)
                {
                    Interlocked.Increment(ref _faults);
                    await FailAsync(client, stream, head, rest);
                    return;
                }
                using var upstream = new TcpClient();
                await upstream.ConnectAsync(IPAddress.Loopback, _targetPort, _stop.Token);
                NetworkStream target = upstream.GetStream();
                await target.WriteAsync(head, _stop.Token);
                await target.WriteAsync(rest, _stop.Token);
                Task up = stream.CopyToAsync(target, _stop.Token);
                Task down = target.CopyToAsync(stream, _stop.Token);
                await Task.WhenAny(up, down);
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
            {
                // a client or server hung up: nothing to relay any more
            }
        }
    }

    private async Task FailAsync(TcpClient client, NetworkStream stream, byte[] head, byte[] rest)
    {
        if (Mode == Fault.Drop)
        {
            client.Client.LingerState = new LingerOption(true, 0); // close sends RST
            return;
        }
        string headers = Encoding.ASCII.GetString(head);
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
        (int status, string reason, string code, string message) = Mode == Fault.SlowDown
            ? (503, "Slow Down", "SlowDown", "Please reduce your request rate.")
            : (500, "Internal Server Error", "InternalError", "We encountered an internal error. Please try again.");
        byte[] body = Encoding.UTF8.GetBytes($"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>fault-{Faults}</RequestId></Error>");
        byte[] response = Encoding.ASCII.GetBytes($"HTTP/1.1 {status} {reason}\r\nContent-Type: application/xml\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n");
        await stream.WriteAsync(response, _stop.Token);
        await stream.WriteAsync(body, _stop.Token);
        await stream.FlushAsync(_stop.Token);
        client.Client.Shutdown(SocketShutdown.Send);
    }

    private static long? ContentLength(string headers)
    {
        foreach (string line in headers.Split("\r\n"))
        {
            if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
            {
                return long.Parse(line["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
            }
        }
        return null;
    }

    /// <summary>Reads up to the blank line that ends the request head; returns the head and any body bytes read past it.</summary>
    private async Task<(byte[] Head, byte[] Body)> ReadHeadAsync(NetworkStream stream)
    {
        var buffer = new MemoryStream();
        byte[] chunk = new byte[8192];
        while (true)
        {
            int read = await stream.ReadAsync(chunk, _stop.Token);
            if (read == 0)
            {
                throw new IOException("client closed before sending a request");
            }
            buffer.Write(chunk, 0, read);
            byte[] all = buffer.ToArray();
            int end = all.AsSpan().IndexOf("\r\n\r\n"u8);
            if (end >= 0)
            {
                return (all[..(end + 4)], all[(end + 4)..]);
            }
        }
    }
}
