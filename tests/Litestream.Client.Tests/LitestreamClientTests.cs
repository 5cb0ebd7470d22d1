using System.Net;

namespace Litestream.Client.Tests;

/// <summary>LagAsync and the TCP control API's bearer token, against the published exe.</summary>
[Requires(Need.Python)]
public sealed class LitestreamClientTests
{
    /// <summary>Caught up: the local TXID is the replica's, nothing behind, no lag; unknown databases are the daemon's 404.</summary>
    [RequiresFact(Need.Exe)]
    public async Task Lag_CaughtUp_ReportsTheReplicasTxid()
    {
        using var node = new Node(TestRepo.TempDir());
        using var client = new LitestreamClient(node.Socket);
        SqliteWriter.Write(node.Database, 4, start: 3);
        ReplicationLag lag = await WaitForAsync(() => client.LagAsync(node.Database), l => l.BehindTxids == 0 && l.Txid == node.ReplicaTxid() && l.Txid >= 2);
        Assert.Equal(new ReplicationLag(node.Database, lag.Txid, lag.Txid, 0, TimeSpan.Zero), lag);

        var unknown = await Assert.ThrowsAsync<LitestreamClientException>(() => client.LagAsync(node.Database + "-nope"));
        Assert.Equal((404, $"database not found: {node.Database}-nope"), (unknown.Status, unknown.Message));
    }

    /// <summary>
    /// Over TCP the daemon answers only requests carrying its token: none or a wrong one is a 401 before anything is
    /// looked at (a halt from such a client takes no lock: the right client halts at once after it), the right one works.
    /// </summary>
    [RequiresFact(Need.Exe)]
    public async Task Tcp_WithoutTheToken_IsRefused()
    {
        using var node = new Node(TestRepo.TempDir(), token: "s3cret-token");
        const string Refused = "unauthorized: the control API over TCP needs Authorization: Bearer <socket.token>";

        using var wrong = new LitestreamClient(new LitestreamClientOptions { Address = node.Address, Token = "guess" });
        var lag = await Assert.ThrowsAsync<LitestreamClientException>(() => wrong.LagAsync(node.Database));
        Assert.Equal((401, Refused), (lag.Status, lag.Message));
        var halt = await Assert.ThrowsAsync<LitestreamClientException>(() => wrong.HaltAsync(node.Database, TimeSpan.FromSeconds(30)));
        Assert.Equal((401, Refused), (halt.Status, halt.Message));

        using (var plain = new HttpClient())
        {
            using HttpResponseMessage response = await plain.PostAsync(new Uri(node.Address!, "/halt"), new StringContent($"{{\"path\":\"{node.Database}\"}}"));
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal($"{{\"error\":\"{Refused}\"}}\n", await response.Content.ReadAsStringAsync());
        }
        // A large /forward body is never read from a client without the token: the 401 comes as soon as the head is in,
        // though the 60 MB the head announces were never sent.
        using (var raw = new System.Net.Sockets.TcpClient())
        {
            await raw.ConnectAsync(node.Address!.Host, node.Address.Port);
            System.Net.Sockets.NetworkStream stream = raw.GetStream();
            await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes("POST /forward HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 60000000\r\n\r\n"));
            using var reader = new StreamReader(stream);
            Assert.Equal("HTTP/1.1 401 Unauthorized", await reader.ReadLineAsync());
        }
        Assert.Throws<ArgumentException>(() => new LitestreamClient(new LitestreamClientOptions { Address = node.Address }));

        using var right = new LitestreamClient(new LitestreamClientOptions { Address = node.Address, Token = "s3cret-token" });
        Assert.Equal(node.Database, (await right.LagAsync(node.Database)).Path);
        Halt held = await right.HaltAsync(node.Database, TimeSpan.FromSeconds(30));
        Assert.Equal(node.ReplicaTxid(), held.Txid);
        Assert.Equal(held.Txid, await right.UnhaltAsync(node.Database));
        await Assert.ThrowsAsync<NotSupportedException>(() => right.WithHaltAsync(node.Database, _ => Task.CompletedTask));
    }

    /// <summary>The TCP control API is never served without a token: the config is refused before anything starts.</summary>
    [RequiresFact(Need.Exe)]
    public void Tcp_ConfigWithoutToken_IsRefused()
    {
        string dir = TestRepo.TempDir();
        string config = Path.Combine(dir, "litestream.yml");
        File.WriteAllText(config, $"socket: {{enabled: true, path: {dir}/ls.sock, addr: \"127.0.0.1:0\"}}\ndbs:\n  - path: {dir}/app.db\n    replica: {{url: file://{dir}/replica}}\n");
        ProcessResult result = Processes.Run(TestRepo.Exe!, ["replicate", "-config", config]);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("socket.token: required when socket.addr is set (TCP requests must carry it as a bearer token)", result.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(dir, "ls.sock")));
    }

    internal static async Task<T> WaitForAsync<T>(Func<Task<T>> probe, Func<T, bool> done)
    {
        T last = await probe();
        var deadline = DateTime.UtcNow + Wait.DefaultCeiling;
        while (!done(last))
        {
            Assert.True(DateTime.UtcNow < deadline, $"still {last} after {Wait.DefaultCeiling}");
            await Task.Delay(20);
            last = await probe();
        }
        return last;
    }
}
