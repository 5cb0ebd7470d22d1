using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Litestream.Ltx;
using Litestream.Storage;
using Litestream.Storage.Nats;
using Litestream.Tests.Fixtures;

namespace Litestream.Tests.Storage;

/// <summary>The NATS backend's own behaviour against a local nats-server -js: its URL, its errors (one line naming server, bucket and path, a hint, no secret), bounded connects, upstream's object layout.</summary>
[Collection("nats")]
public sealed class NatsReplicaClientTests(NatsFixture nats)
{
    [RequiresFact(Need.NatsServer)]
    public async Task WrongPassword_AuthorizationRefused_NeverThePassword()
    {
        const string password = "wrong-nats-password-never-printed";
        await using var client = new NatsReplicaClient(nats.Settings("badpass") with { Password = password });
        ReplicaStorageException e = await Assert.ThrowsAsync<ReplicaStorageException>(async () => await client.InitAsync(default));
        Assert.Equal($"nats: connect nats://{nats.Server.HostPort}/{client.Bucket}/db/badpass: authorization refused by the server", e.Message);
        Assert.Equal("check username and password, token, nkey, creds or jwt and seed", e.Hint);
        Assert.DoesNotContain(password, e.ToString());
        Assert.DoesNotContain(nats.Server.Password, e.ToString());
    }

    [RequiresFact(Need.NatsServer)]
    public async Task NoCredentials_AuthorizationRefused()
    {
        await using var client = new NatsReplicaClient(nats.Settings("nocreds") with { Username = null, Password = null });
        ReplicaStorageException e = await Assert.ThrowsAsync<ReplicaStorageException>(async () => await client.InitAsync(default));
        Assert.EndsWith(": authorization refused by the server", e.Message);
    }

    [RequiresFact(Need.NatsServer)]
    public async Task MissingBucket_OneLineNamingIt_HintSaysCreateIt()
    {
        await using var client = new NatsReplicaClient(nats.Settings("nobucket") with { Bucket = "no-such-bucket" });
        ReplicaStorageException e = await Assert.ThrowsAsync<ReplicaStorageException>(async () => await client.InitAsync(default));
        Assert.Equal($"nats: connect nats://{nats.Server.HostPort}/no-such-bucket/db/nobucket: bucket \"no-such-bucket\" not found", e.Message);
        Assert.Equal("create it first (nats object add no-such-bucket); litestream does not create buckets, as upstream", e.Hint);
        Assert.DoesNotContain(nats.Server.Password, e.ToString());
    }

    [Fact]
    public async Task ClosedPort_FailsWithinItsTimeout_HintNamesHostAndPort()
    {
        int port = Litestream.Testing.LocalServer.FreePort();
        await using var client = new NatsReplicaClient(new NatsReplicaSettings
        {
            Host = $"127.0.0.1:{port}", Bucket = "b", Path = "x", Username = "u", Password = "s3cr3t-nats-pw", Timeout = TimeSpan.FromSeconds(2),
        });
        var clock = Stopwatch.StartNew();
        ReplicaStorageException e = await Assert.ThrowsAsync<ReplicaStorageException>(async () => await client.InitAsync(default));
        Assert.InRange(clock.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(20));
        Assert.StartsWith($"nats: connect nats://127.0.0.1:{port}/b/x: ", e.Message);
        Assert.Equal("check host and port (the replica URL) and the network", e.Hint);
        Assert.DoesNotContain("s3cr3t-nats-pw", e.ToString());
    }

    [Fact]
    public async Task SilentServer_ConnectFailsWithinItsTimeout()
    {
        // Accepts TCP and never sends NATS's INFO line.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        Task<Socket> accepted = listener.AcceptSocketAsync();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        await using var client = new NatsReplicaClient(new NatsReplicaSettings
        {
            Host = $"127.0.0.1:{port}", Bucket = "b", Token = "s3cr3t-nats-token", Timeout = TimeSpan.FromSeconds(1), RequestTimeout = TimeSpan.FromSeconds(1),
        });
        var clock = Stopwatch.StartNew();
        ReplicaStorageException e = await Assert.ThrowsAsync<ReplicaStorageException>(async () => await client.InitAsync(default));
        Assert.InRange(clock.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(20));
        Assert.Equal($"nats: connect nats://127.0.0.1:{port}/b: no answer within 1s", e.Message);
        Assert.Equal("check host and port (the replica URL), that it is a NATS server, and the network", e.Hint);
        Assert.DoesNotContain("s3cr3t-nats-token", e.ToString());
        (await accepted).Dispose();
    }

    [RequiresFact(Need.NatsServer)]
    public async Task Write_UpstreamLayoutAndTimestampHeader()
    {
        await using var client = nats.Client("layout");
        await client.WriteLtxFileAsync(0, new Txid(1), new Txid(2), new MemoryStream(ReplicaClientConformanceTests.Ltx(1, 2, 1_700_000_001_234, 200)), default);
        Assert.Equal("db/layout/ltx/0/0000000000000001-0000000000000002.ltx", client.LtxName(0, new Txid(1), new Txid(2)));
        NATS.Client.ObjectStore.Models.ObjectMetadata? meta = null;
        await nats.Server.WithBucketAsync(client.Bucket, async store => meta = await store.GetInfoAsync("db/layout/ltx/0/0000000000000001-0000000000000002.ltx"));
        Assert.Equal(["2023-11-14T22:13:21.234Z"], meta!.Headers![NatsReplicaClient.TimestampHeader]);
        Assert.Equal(200UL, meta.Size);
    }

    [Theory]
    [InlineData("nats://h:4223/bkt/some/path", "h:4223", "bkt", "some/path")]
    [InlineData("nats://h/bkt", "h", "bkt", "")]
    [InlineData("nats://h/bkt/", "h", "bkt", "")]
    public void Url_FirstSegmentIsTheBucket_RestThePath(string url, string host, string bucket, string path)
    {
        ReplicaSettings s = ReplicaUrl.Parse(url);
        Assert.Equal(("nats", path), (s.Type, s.Path));
        Assert.Equal(host, s.Options["host"]);
        Assert.Equal(bucket, s.Options["bucket"]);
    }

    [Fact]
    public async Task Url_UserInfo_IsUsernameAndPassword_Redacted()
    {
        ReplicaSettings s = ReplicaUrl.Parse("nats://bob:s3cr3t-url-pw@h:4222/bkt/db");
        Assert.Equal(("bob", "s3cr3t-url-pw"), (s.Options["username"], s.Options["password"]));
        Assert.Equal("nats://REDACTED@h:4222/bkt/db", s.Url);
        Assert.DoesNotContain("s3cr3t-url-pw", s.ToString());
        await using IReplicaClient client = ReplicaClientFactory.Create(s);
        var nats = Assert.IsType<NatsReplicaClient>(client);
        Assert.Equal(("h", 4222, "bkt", "db", "bob"), (nats.Host, nats.Port, nats.Bucket, nats.Path, nats.Settings.Username));
        Assert.DoesNotContain("s3cr3t-url-pw", nats.Settings.ToString());
    }

    [Fact]
    public void Url_NoBucket_Invalid()
    {
        ArgumentException e = Assert.Throws<ArgumentException>(() => ReplicaUrl.Parse("nats://h:4222/"));
        Assert.Equal("invalid nats replica url \"nats://h:4222/\": bucket required (nats://host[:port]/bucket/path)", e.Message);
    }

    [Fact]
    public void Create_Settings_BindsEveryUpstreamKey()
    {
        var settings = new ReplicaSettings
        {
            Url = "nats://h:4222/bkt/db",
            Options = new Dictionary<string, string>
            {
                ["jwt"] = "eyJ-jwt", ["seed"] = "SUAseed", ["creds"] = "/x.creds", ["nkey"] = "SUAnkey", ["username"] = "u", ["password"] = "p-secret",
                ["token"] = "t-secret", ["tls"] = "true", ["root-cas"] = "/ca1.pem\n/ca2.pem", ["client-cert"] = "/c.pem", ["client-key"] = "/k.pem",
                ["max-reconnects"] = "5", ["reconnect-wait"] = "3s", ["timeout"] = "1m30s",
            },
        };
        NatsReplicaSettings s = NatsReplicaSettings.Bind(settings.WithDefaultOptions(ReplicaUrl.Parse(settings.Url).Options));
        Assert.Equal(("eyJ-jwt", "SUAseed", "/x.creds", "SUAnkey", "u", "p-secret", "t-secret"), (s.Jwt, s.Seed, s.Creds, s.Nkey, s.Username, s.Password, s.Token));
        Assert.Equal((true, "/c.pem", "/k.pem", 5), (s.Tls, s.ClientCert, s.ClientKey, s.MaxReconnects));
        Assert.Equal(["/ca1.pem", "/ca2.pem"], s.RootCas!);
        Assert.Equal((TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(90)), (s.ReconnectWait, s.Timeout));
        Assert.Equal(("h:4222", "bkt"), (s.Host, s.Bucket));
        string text = s.ToString();
        foreach (string secret in new[] { "eyJ-jwt", "SUAseed", "SUAnkey", "p-secret", "t-secret" })
        {
            Assert.DoesNotContain(secret, text);
        }
        Assert.Contains("RootCas = [/ca1.pem, /ca2.pem]", text);
        Assert.Contains("Timeout = 1m30s", text);
    }

    [Theory]
    [InlineData("/c.pem", null)]
    [InlineData(null, "/k.pem")]
    public void Create_ClientCertWithoutKey_Throws(string? cert, string? key)
    {
        ArgumentException e = Assert.Throws<ArgumentException>(() => new NatsReplicaClient(new NatsReplicaSettings { Bucket = "b", ClientCert = cert, ClientKey = key }));
        Assert.Equal("nats client-cert and client-key must both be set for mutual TLS", e.Message);
    }

    [Fact]
    public void Create_NoBucket_Throws()
    {
        ArgumentException e = Assert.Throws<ArgumentException>(() => new NatsReplicaClient(new NatsReplicaSettings { Host = "h" }));
        Assert.Equal("nats replica requires bucket (nats://host:port/bucket/path)", e.Message);
    }
}
