using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Litestream.Ltx;
using Litestream.Storage;
using Litestream.Storage.Sftp;
using Litestream.Tests.Fixtures;

namespace Litestream.Tests.Storage;

/// <summary>The SFTP backend's own behaviour against a local sshd: its errors (one line, a hint, no secret), bounded connects, host keys, one-at-a-time writes.</summary>
[Collection("sshd")]
public sealed class SftpReplicaClientTests(SshdFixture sshd)
{
    [RequiresFact(Need.Sshd)]
    public async Task ConcurrentWritesOff_WritesAndReadsEveryByte()
    {
        await using var client = new SftpReplicaClient(sshd.Settings("serial") with { ConcurrentWrites = false });
        byte[] data = ReplicaClientConformanceTests.Ltx(1, 4, 1_700_000_000_000, (3 * 1024 * 1024) + 5);
        LtxFileInfo info = await client.WriteLtxFileAsync(0, new Txid(1), new Txid(4), new MemoryStream(data), default);
        Assert.Equal(data.Length, info.Size);
        Assert.Equal(data, await File.ReadAllBytesAsync(client.LtxPath(0, new Txid(1), new Txid(4))));
    }

    [RequiresFact(Need.Sshd)]
    public async Task NoHostKey_Refused_HintPrintsTheServersKey()
    {
        await using var client = new SftpReplicaClient(sshd.Settings("nohostkey") with { HostKey = null });
        ReplicaStorageException e = await Assert.ThrowsAsync<ReplicaStorageException>(async () => await client.InitAsync(default));
        Assert.Matches("^sftp: connect sftp://[^ ]+: unknown host key SHA256:[A-Za-z0-9+/]{43}, and no host-key is set$", e.Message);
        string keyLine = string.Join(' ', sshd.Server.HostKey.Split(' ')[..2]);
        Assert.Contains($"set host-key: \"{keyLine}\"", e.Hint);
    }

    [RequiresFact(Need.Sshd)]
    public async Task NoHostKey_InsecureIgnoreHostKey_Connects()
    {
        await using var client = new SftpReplicaClient(sshd.Settings("insecure") with { HostKey = null, InsecureIgnoreHostKey = true });
        await client.InitAsync(default);
        await using IAsyncEnumerator<LtxFileInfo> files = client.ListLtxFilesAsync(0, default, false, default).GetAsyncEnumerator();
        Assert.False(await files.MoveNextAsync());
    }

    [RequiresFact(Need.Sshd)]
    public async Task UnauthorizedKeyAndPassword_LoginRefused_NeverThePassword()
    {
        string otherKey = Path.Combine(sshd.Server.Directory, "host_key"); // a valid key that is not in authorized_keys
        const string password = "hunter2-never-printed";
        await using var client = new SftpReplicaClient(sshd.Settings("refused") with { KeyPath = otherKey, Password = password, MaxRetries = 0 });
        ReplicaStorageException e = await Assert.ThrowsAsync<ReplicaStorageException>(async () => await client.InitAsync(default));
        Assert.StartsWith("sftp: connect sftp://", e.Message);
        Assert.Contains(": login refused: ", e.Message);
        Assert.StartsWith("check user \"", e.Hint);
        Assert.DoesNotContain(password, e.ToString());
    }

    [RequiresFact(Need.Sshd)]
    public async Task KeyPathMissing_OneLineWithHint()
    {
        await using var client = new SftpReplicaClient(sshd.Settings("nokey") with { KeyPath = "/nonexistent/id_ed25519" });
        ReplicaStorageException e = await Assert.ThrowsAsync<ReplicaStorageException>(async () => await client.InitAsync(default));
        Assert.StartsWith("sftp: key-path /nonexistent/id_ed25519: cannot read it: ", e.Message);
        Assert.StartsWith("key-path must name", e.Hint);
    }

    [Fact]
    public async Task SilentServer_ConnectFailsWithinItsTimeout()
    {
        // Accepts TCP and never sends the SSH identification line.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        Task<Socket> accepted = listener.AcceptSocketAsync();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        await using var client = new SftpReplicaClient(new SftpReplicaSettings
        {
            Host = $"127.0.0.1:{port}", User = "u", Password = "s3cr3t-pw", InsecureIgnoreHostKey = true, Path = "/x",
            ConnectTimeout = TimeSpan.FromSeconds(1), MaxRetries = 0,
        });
        var clock = Stopwatch.StartNew();
        ReplicaStorageException e = await Assert.ThrowsAsync<ReplicaStorageException>(async () => await client.InitAsync(default));
        Assert.InRange(clock.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(30));
        Assert.StartsWith($"sftp: connect sftp://u@127.0.0.1:{port}/x: ", e.Message);
        Assert.NotNull(e.Hint);
        (await accepted).Dispose();
    }

    [Fact]
    public async Task ClosedPort_ConnectRefused_HintNamesHostAndPort()
    {
        int port = Litestream.Testing.LocalServer.FreePort();
        await using var client = new SftpReplicaClient(new SftpReplicaSettings
        {
            Host = $"127.0.0.1:{port}", User = "u", Password = "s3cr3t-pw", InsecureIgnoreHostKey = true, Path = "/x", MaxRetries = 0,
        });
        ReplicaStorageException e = await Assert.ThrowsAsync<ReplicaStorageException>(async () => await client.InitAsync(default));
        Assert.StartsWith($"sftp: connect sftp://u@127.0.0.1:{port}/x: ", e.Message);
        Assert.Equal("check host and port (host, or the replica URL) and the network", e.Hint);
    }

    [Theory]
    [InlineData(null, "u", "s3cr3t-pw", "sftp replica requires host")]
    [InlineData("h", null, "s3cr3t-pw", "sftp replica requires user")]
    [InlineData("h", "u", null, "sftp replica requires password or key-path")]
    [InlineData("h:0", "u", "s3cr3t-pw", "sftp host \"h:0\" has no valid port (1-65535)")]
    public void Create_MissingOrBadSetting_Throws(string? host, string? user, string? password, string message)
    {
        ArgumentException e = Assert.Throws<ArgumentException>(() => new SftpReplicaClient(new SftpReplicaSettings { Host = host, User = user, Password = password }));
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void Create_MalformedHostKey_Throws()
    {
        ArgumentException e = Assert.Throws<ArgumentException>(() => new SftpReplicaClient(new SftpReplicaSettings { Host = "h", User = "u", Password = "s3cr3t-pw", HostKey = "ssh-ed25519 notbase64!" }));
        Assert.StartsWith("sftp host-key must be a public key line", e.Message);
    }
}
