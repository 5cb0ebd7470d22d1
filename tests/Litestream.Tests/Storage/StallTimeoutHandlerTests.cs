using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Amazon.S3;
using Litestream.Internal;
using Litestream.Storage;
using Litestream.Storage.S3;

namespace Litestream.Tests.Storage;

/// <summary>
/// The HTTP client the S3 backend sends through (<see cref="S3HttpClientFactory"/> over
/// <see cref="StallTimeoutHandler"/>), against raw loopback sockets that misbehave below HTTP: a listener
/// whose accept queue is full (the SYN is dropped, as by a firewall) and a server that accepts and never
/// reads (an upload's body stops moving).
/// </summary>
public sealed class StallTimeoutHandlerTests
{
    // The connect limit is the socket handler's and runs inside the response limit: shorter here, as by default.
    private static readonly StorageTimeouts s_limits = new() { Connect = TimeSpan.FromSeconds(1), Response = TimeSpan.FromSeconds(5), Idle = TimeSpan.FromSeconds(1) };

    private static HttpClient Client() => new S3HttpClientFactory(s_limits, skipVerify: false).CreateHttpClient(new AmazonS3Config());

    [Fact]
    public async Task Send_ListenerNeverAccepts_FailsAfterTheConnectTimeout()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(0);
        var port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        // Fill the accept queue with connections nobody accepts: the kernel then drops further SYNs.
        var fillers = new List<Socket>();
        try
        {
            for (int i = 0; i < 8; i++)
            {
                var filler = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                fillers.Add(filler);
                using var quick = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
                try
                {
                    await filler.ConnectAsync(IPAddress.Loopback, port, quick.Token);
                }
                catch (OperationCanceledException)
                {
                    break; // this one hangs in SYN_SENT: the queue is full
                }
            }
            using HttpClient client = Client();
            var clock = Stopwatch.StartNew();
            StallException error = await Assert.ThrowsAsync<StallException>(() => client.GetAsync($"http://127.0.0.1:{port}/bkt/key"));
            Assert.Equal("stalled: could not connect within 1s", error.Message);
            Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(10));
        }
        finally
        {
            fillers.ForEach(f => f.Dispose());
        }
    }

    [Fact]
    public async Task Send_ServerNeverReadsTheUpload_FailsAfterTheIdleTimeout()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        Task<TcpClient> accepted = listener.AcceptTcpClientAsync();
        using HttpClient client = Client();
        // Far more than the socket buffers on both sides hold: the body must stop moving.
        var body = new ByteArrayContent(new byte[256 << 20]);
        var clock = Stopwatch.StartNew();
        StallException error = await Assert.ThrowsAsync<StallException>(() => client.PutAsync($"http://127.0.0.1:{port}/bkt/key", body));
        Assert.Equal("stalled: request body not accepted for 1s", error.Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"took {clock.Elapsed}");
        (await accepted).Dispose();
    }

    [Fact]
    public async Task Send_SlowButSteadyResponse_IsNotAStall()
    {
        // Silence of 3 s is a stall here; the server is silent 150 ms at a time (20x margin for a busy
        // machine) but takes 4.5 s in all, longer than the idle limit.
        var limits = s_limits with { Idle = TimeSpan.FromSeconds(3) };
        const string Body = "abcdefghijklmnopqrstuvwxyz01234";
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        Task server = Task.Run(async () =>
        {
            using TcpClient connection = await listener.AcceptTcpClientAsync();
            NetworkStream stream = connection.GetStream();
            byte[] request = new byte[4096];
            _ = await stream.ReadAsync(request);
            await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Length: {Body.Length}\r\n\r\n"));
            foreach (char c in Body)
            {
                await Task.Delay(150); // a server trickling its body: the scenario
                await stream.WriteAsync(new[] { (byte)c });
            }
        });
        using HttpClient client = new S3HttpClientFactory(limits, skipVerify: false).CreateHttpClient(new AmazonS3Config());
        Assert.Equal(Body, await client.GetStringAsync($"http://127.0.0.1:{port}/bkt/key"));
        await server;
    }
}
