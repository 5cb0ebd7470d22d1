using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Litestream.Ltx;
using Litestream.Storage;
using Litestream.Storage.WebDav;
using Litestream.Tests.Fixtures;

namespace Litestream.Tests.Storage;

/// <summary>
/// The WebDAV backend's errors against each real server: one line naming the backend, the URL and what the server
/// said, a hint, and never the password.
/// </summary>
public abstract class WebDavServerErrorTests(WebDavFixture server)
{
    private const string WrongPassword = "wrong-dav-pw-93kd";

    [RequiresFact]
    public async Task WrongPassword_LoginRefused_NeverThePassword()
    {
        await using var client = new WebDavReplicaClient(server.Settings("wrongpw") with { WebDavPassword = WrongPassword });
        ReplicaStorageException e = await Assert.ThrowsAsync<ReplicaStorageException>(async () => await client.InitAsync(default));
        Assert.Equal($"webdav: connect {client}: login refused (401 Unauthorized)", e.Message);
        Assert.Equal($"check webdav-username \"{WebDavServer.User}\" and webdav-password (or user:password@ in the replica URL)", e.Hint);
        Assert.DoesNotContain(WrongPassword, e.ToString());
        // Every operation says the same, not "no files".
        ReplicaStorageException list = await Assert.ThrowsAsync<ReplicaStorageException>(async () =>
        {
            await foreach (LtxFileInfo _ in client.ListLtxFilesAsync(0, default, false, default))
            {
            }
        });
        Assert.Equal($"webdav: list {client.Location(client.LevelDirectory(0))}/: login refused (401 Unauthorized)", list.Message);
    }

    [RequiresFact]
    public async Task NoLogin_HintAsksForOne()
    {
        await using var client = new WebDavReplicaClient(server.Settings("nologin") with { WebDavUsername = null, WebDavPassword = null });
        ReplicaStorageException e = await Assert.ThrowsAsync<ReplicaStorageException>(async () => await client.InitAsync(default));
        Assert.Equal($"webdav: connect {client}: login refused (401 Unauthorized)", e.Message);
        Assert.StartsWith("the server wants a login: set webdav-username and webdav-password", e.Hint);
    }

    [RequiresFact]
    public async Task MissingBaseCollection_InitNamesIt_WriteCannotMakeIt()
    {
        await using var client = new WebDavReplicaClient(server.Settings("db") with { WebDavUrl = server.Server.Url + "/no/such/share" });
        ReplicaStorageException e = await Assert.ThrowsAsync<ReplicaStorageException>(async () => await client.InitAsync(default));
        Assert.Equal($"webdav: connect {server.Server.Url}/no/such/share/{client.Path}: not found (404 Not Found)", e.Message);
        Assert.Equal("check webdav-url and path: the server has no collection there", e.Hint);
        ReplicaStorageException write = await Assert.ThrowsAsync<ReplicaStorageException>(async () => await client.WriteLtxFileAsync(
            0, new Txid(1), new Txid(1), new MemoryStream(ReplicaClientConformanceTests.Ltx(1, 1, 1_700_000_000_000, 200)), default));
        Assert.Equal($"webdav: mkcol {server.Server.Url}/no/such/share/{client.Path}/: 409 Conflict (the server's root refuses it)", write.Message);
        Assert.Equal("check webdav-url: it must name a collection that exists on the server", write.Hint);
        // Nothing was left behind, and reading a missing replica is "not found", not an error.
        Assert.False(Directory.Exists(Path.Combine(server.Server.DataDirectory, "no")));
        await Assert.ThrowsAsync<ReplicaFileNotFoundException>(async () => await client.OpenLtxFileAsync(0, new Txid(1), new Txid(1), 0, 0, default));
    }

    [RequiresFact]
    public async Task Write_LeavesNoTemporaryFile_AndOffsetPastTheEndReadsNothing()
    {
        await using WebDavReplicaClient client = server.Client("clean");
        byte[] data = ReplicaClientConformanceTests.Ltx(1, 2, 1_700_000_000_000, 5000);
        await client.WriteLtxFileAsync(0, new Txid(1), new Txid(2), new MemoryStream(data), default);
        string dir = Path.Combine(server.Server.DataDirectory, client.LevelDirectory(0));
        Assert.Equal(["0000000000000001-0000000000000002.ltx"], Directory.GetFiles(dir).Select(Path.GetFileName));
        await using Stream past = await client.OpenLtxFileAsync(0, new Txid(1), new Txid(2), 5000, 0, default);
        Assert.Equal(-1, past.ReadByte());
    }
}

[Collection("rclone-webdav")]
[Requires(Need.Rclone)]
public sealed class RcloneWebDavErrorTests(RcloneWebDavFixture server) : WebDavServerErrorTests(server);

[Collection("nginx-dav")]
[Requires(Need.NginxDav)]
public sealed class NginxDavErrorTests(NginxDavFixture server) : WebDavServerErrorTests(server);

/// <summary>The WebDAV backend without a server: bounded connects and answers, settings checks, no secret in any text.</summary>
public sealed class WebDavReplicaClientTests
{
    private const string Secret = "never-printed-9f3a";

    [Fact]
    public async Task ClosedPort_ConnectRefused_HintNamesHostAndPort()
    {
        int port = Litestream.Testing.LocalServer.FreePort();
        await using var client = new WebDavReplicaClient(new WebDavReplicaSettings
        {
            WebDavUrl = $"http://127.0.0.1:{port}", WebDavUsername = "u", WebDavPassword = Secret, Path = "app", MaxRetries = 0,
        });
        ReplicaStorageException e = await Assert.ThrowsAsync<ReplicaStorageException>(async () => await client.InitAsync(default));
        Assert.StartsWith($"webdav: connect http://127.0.0.1:{port}/app: cannot connect: Connection refused", e.Message);
        Assert.Equal("check the host and port in webdav-url (or the replica URL) and the network", e.Hint);
        Assert.DoesNotContain(Secret, e.ToString());
    }

    [Fact]
    public async Task SilentServer_FailsWithinTheResponseLimit()
    {
        // Accepts TCP and never answers.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        Task<Socket> accepted = listener.AcceptSocketAsync();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        await using var client = new WebDavReplicaClient(new WebDavReplicaSettings
        {
            WebDavUrl = $"http://127.0.0.1:{port}", WebDavUsername = "u", WebDavPassword = Secret, Path = "app",
            RequestTimeout = TimeSpan.FromSeconds(1), MaxRetries = 0,
        });
        var clock = Stopwatch.StartNew();
        ReplicaStorageException e = await Assert.ThrowsAsync<ReplicaStorageException>(async () => await client.OpenLtxFileAsync(0, new Txid(1), new Txid(1), 0, 0, default));
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(30));
        Assert.Equal($"webdav: get http://127.0.0.1:{port}/app/ltx/0/0000000000000001-0000000000000001.ltx: stalled: no response for 1s", e.Message);
        Assert.StartsWith("check that the server is reachable and answering", e.Hint);
        (await accepted).Dispose();
    }

    [Fact]
    public async Task Copy_ServerWithoutCopy_NullAndNothingMoved()
    {
        // A share whose server refuses COPY (405) makes compaction upload the bytes instead.
        using var listener = new HttpListener();
        int port = Litestream.Testing.LocalServer.FreePort();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        var methods = new System.Collections.Concurrent.ConcurrentQueue<string>();
        Task serving = Task.Run(async () =>
        {
            while (listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await listener.GetContextAsync();
                }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
                {
                    return; // stopped
                }
                methods.Enqueue(context.Request.HttpMethod);
                context.Response.StatusCode = context.Request.HttpMethod == "COPY" ? 405 : 201;
                context.Response.Close();
            }
        });
        await using (var client = new WebDavReplicaClient(new WebDavReplicaSettings { WebDavUrl = $"http://127.0.0.1:{port}", Path = "app", MaxRetries = 0 }))
        {
            var source = new LtxFileInfo(1, new Txid(5), new Txid(7), 777, DateTimeOffset.UnixEpoch);
            Assert.Null(await client.CopyLtxFileAsync(source, 2, default));
        }
        listener.Stop();
        await serving;
        Assert.Equal("COPY", methods.Last());
        Assert.DoesNotContain("MOVE", methods);
    }

    [Fact]
    public async Task UnroutableHost_FailsWithinTheConnectLimit()
    {
        // TEST-NET-1 (RFC 5737): never answers; a host without a route fails at once instead.
        await using var client = new WebDavReplicaClient(new WebDavReplicaSettings
        {
            WebDavUrl = "http://192.0.2.1:8080", WebDavUsername = "u", WebDavPassword = Secret, ConnectTimeout = TimeSpan.FromSeconds(1), MaxRetries = 0,
        });
        var clock = Stopwatch.StartNew();
        ReplicaStorageException e = await Assert.ThrowsAsync<ReplicaStorageException>(async () => await client.InitAsync(default));
        Assert.InRange(clock.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(30));
        Assert.StartsWith("webdav: connect http://192.0.2.1:8080/: ", e.Message);
        Assert.NotNull(e.Hint);
        Assert.DoesNotContain(Secret, e.ToString());
    }

    [Theory]
    [InlineData(null, "webdav replica requires webdav-url (or a webdav:// or webdavs:// url)")]
    [InlineData("ftp://host/x", "webdav-url \"ftp://host/x\" is not an http:// or https:// URL")]
    [InlineData("host:8080", "webdav-url \"host:8080\" is not an http:// or https:// URL")]
    public void Create_MissingOrBadUrl_Throws(string? url, string message)
    {
        ArgumentException e = Assert.Throws<ArgumentException>(() => new WebDavReplicaClient(new WebDavReplicaSettings { WebDavUrl = url }));
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public async Task Create_LoginInWebDavUrl_IsTheLogin_NeverPrinted()
    {
        await using var client = new WebDavReplicaClient(new WebDavReplicaSettings { WebDavUrl = $"https://bob:{Secret}@dav.example.com/remote.php/dav/", Path = "/backups/db/" });
        Assert.Equal(("bob", "https://dav.example.com/remote.php/dav", "backups/db"), (client.User, client.Server, client.Path));
        Assert.Equal("https://dav.example.com/remote.php/dav/backups/db", client.ToString());
        Assert.Equal("https://dav.example.com/remote.php/dav/backups/db/ltx/9/0000000000000001-00000000000000ff.ltx", client.Location(client.LtxPath(9, new Txid(1), new Txid(255))));
    }

    [Fact]
    public void Settings_ToString_RedactsThePassword()
    {
        var settings = new WebDavReplicaSettings { WebDavUrl = "http://h", WebDavUsername = "u", WebDavPassword = Secret };
        Assert.DoesNotContain(Secret, settings.ToString());
        Assert.Contains("WebDavUsername = u", settings.ToString());
    }
}
