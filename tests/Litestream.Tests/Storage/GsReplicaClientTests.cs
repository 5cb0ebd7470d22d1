using System.Diagnostics;
using System.Text.Json;
using Litestream.Ltx;
using Litestream.Storage;
using Litestream.Storage.Gs;
using Litestream.Tests.Fixtures;

namespace Litestream.Tests.Storage;

/// <summary>GCS-only behaviour: the URL, the object layout and metadata (upstream's), and the errors a user must act on.</summary>
[Collection("gcs")]
public sealed class GsReplicaClientTests(GcsEmulatorFixture gcs)
{
    private const long T1 = 1_700_000_001_234;

    [Fact]
    public async Task Create_FromUrl_BucketAndPath_LikeUpstream()
    {
        await using var client = (GsReplicaClient)ReplicaClientFactory.Create(new ReplicaSettings { Url = "gs://my-bucket/app/db" });
        Assert.Equal(("gs", "my-bucket", "app/db"), (client.Type, client.Bucket, client.Path));
        Assert.Equal("app/db/ltx/9/0000000000000001-0000000000000002.ltx", client.LtxName(9, new Txid(1), new Txid(2)));
        Assert.Equal("gs://my-bucket/app/db", client.ToString());
        Assert.Equal("GsReplicaSettings { Path = app/db, Bucket = my-bucket }", client.Settings.ToString());
        await using var root = (GsReplicaClient)ReplicaClientFactory.Create(new ReplicaSettings { Url = "gs://my-bucket" });
        Assert.Equal("ltx/0/0000000000000001-0000000000000001.ltx", root.LtxName(0, new Txid(1), new Txid(1)));
    }

    [Fact]
    public void Create_NoBucket_SaysSo()
        => Assert.Equal("gs replica requires a bucket (gs://bucket/path)",
            Assert.Throws<ArgumentException>(() => new GsReplicaClient(new GsReplicaSettings { Path = "db" }, "127.0.0.1:9", null)).Message);

    [Fact]
    public void Create_BadEmulatorHost_SaysWhichVariable()
        => Assert.Equal("STORAGE_EMULATOR_HOST \"ftp://x\" is not host:port or an http(s) URL",
            Assert.Throws<ArgumentException>(() => new GsReplicaClient(new GsReplicaSettings { Bucket = "b" }, "ftp://x", null)).Message);

    [RequiresFact(Need.GcsEmulator)]
    public async Task Write_StoresUpstreamLayoutAndTimestampMetadata()
    {
        string path = S3rverFixture.NewPath("layout");
        await using GsReplicaClient client = gcs.Client(path);
        await client.WriteLtxFileAsync(0, new Txid(1), new Txid(2), new MemoryStream(ReplicaClientConformanceTests.Ltx(1, 2, T1, 600)), default);
        using var http = new HttpClient();
        string name = $"{path}/ltx/0/0000000000000001-0000000000000002.ltx";
        using JsonDocument resource = JsonDocument.Parse(await http.GetStringAsync($"http://{gcs.Server.Host}/storage/v1/b/{GcsEmulatorFixture.Bucket}/o/{Uri.EscapeDataString(name)}"));
        Assert.Equal(name, resource.RootElement.GetProperty("name").GetString());
        Assert.Equal("600", resource.RootElement.GetProperty("size").GetString());
        Assert.Equal("2023-11-14T22:13:21.234Z", resource.RootElement.GetProperty("metadata").GetProperty(GsReplicaClient.TimestampMetadataKey).GetString());
    }

    [RequiresFact(Need.GcsEmulator)]
    public async Task Open_Missing_NotFoundNamingTheObject()
    {
        await using GsReplicaClient client = gcs.Client(S3rverFixture.NewPath("missing"));
        var e = await Assert.ThrowsAsync<ReplicaFileNotFoundException>(async () => await client.OpenLtxFileAsync(0, new Txid(1), new Txid(1), 0, 0, default));
        Assert.Equal($"replica file not found: gs://{GcsEmulatorFixture.Bucket}/{client.Path}/ltx/0/0000000000000001-0000000000000001.ltx", e.Message);
    }

    [Fact]
    public async Task Unreachable_FailsPromptly_OneLineNamingObjectAndEndpoint()
    {
        int closed = Litestream.Testing.LocalServer.FreePort();
        await using var client = new GsReplicaClient(new GsReplicaSettings { Bucket = "b", Path = "db", MaxRetries = 1 }, $"127.0.0.1:{closed}", null);
        var clock = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<ReplicaStorageException>(async () =>
        {
            await foreach (LtxFileInfo _ in client.ListLtxFilesAsync(0, default, false, default))
            {
            }
        });
        Assert.StartsWith($"gs: list gs://b/db/ltx/0/: cannot connect to http://127.0.0.1:{closed}: ", e.Message);
        Assert.Equal("check the network (or STORAGE_EMULATOR_HOST)", e.Hint);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed}");
    }
}
