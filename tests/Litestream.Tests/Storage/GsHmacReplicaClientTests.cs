using Litestream.Ltx;
using Litestream.Storage;
using Litestream.Storage.Gs;
using Litestream.Storage.S3;
using Litestream.Tests.Fixtures;

namespace Litestream.Tests.Storage;

/// <summary>
/// gs replicas with HMAC keys: GCS's S3-interoperable XML API through the S3 client, with GCS's rules (region
/// auto, path style, one DELETE per object: the XML API has no multi-object delete) and the gs layout, so the same
/// bucket reads alike with HMAC keys and with a service account.
/// </summary>
[Collection("s3rver")]
public sealed class GsHmacReplicaClientTests(S3rverFixture s3)
{
    private const long T1 = 1_700_000_001_234;
    private const string KeyId = "GOOG1EHMACTESTKEYID7Q2";
    private const string KeySecret = "hmac-secret-3f9a1c77b2e04d5e";

    [Fact]
    public async Task Create_WithHmacKeys_IsTheXmlApiClientWithGcsRules()
    {
        await using var client = (GsHmacReplicaClient)ReplicaClientFactory.Create(new ReplicaSettings
        {
            Url = "gs://my-bucket/app/db",
            Options = new Dictionary<string, string> { ["access-key-id"] = KeyId, ["secret-access-key"] = KeySecret },
        });
        Assert.Equal(("gs", "gs://my-bucket/app/db", "app/db/ltx/9/", "gcs"), (client.Type, client.ToString(), client.LevelPrefix(9), client.Provider.Name));
        S3ReplicaSettings s3Settings = GsHmacReplicaClient.ToS3(new GsReplicaSettings { Bucket = "my-bucket", Path = "app/db", AccessKeyId = KeyId, SecretAccessKey = KeySecret });
        Assert.Equal(("https://storage.googleapis.com", "auto", (bool?)true), (s3Settings.Endpoint, s3Settings.Region, s3Settings.ForcePathStyle));
        Assert.Equal("GsReplicaSettings { Path = app/db, Bucket = my-bucket, AccessKeyId = REDACTED, SecretAccessKey = REDACTED }",
            new GsReplicaSettings { Path = "app/db", Bucket = "my-bucket", AccessKeyId = KeyId, SecretAccessKey = KeySecret }.ToString());
        await using var root = (GsHmacReplicaClient)ReplicaClientFactory.Create(new ReplicaSettings
        {
            Url = "gs://my-bucket",
            Options = new Dictionary<string, string> { ["access-key-id"] = KeyId, ["secret-access-key"] = KeySecret },
        });
        Assert.Equal("ltx/0/", root.LevelPrefix(0));
    }

    [Fact]
    public async Task Create_WithoutHmacKeys_IsTheJsonApiClient_OnTheEndpointGiven()
    {
        await using IReplicaClient client = ReplicaClientFactory.Create(new ReplicaSettings { Url = "gs://my-bucket/db?endpoint=http://127.0.0.1:9" });
        Assert.IsType<GsReplicaClient>(client);
        await using var direct = new GsReplicaClient(new GsReplicaSettings { Bucket = "my-bucket", Endpoint = "http://127.0.0.1:9/" }, emulator: null, GsCredentials.None);
        Assert.Equal("http://127.0.0.1:9", direct.Endpoint);
    }

    [Fact]
    public void Create_OneHmacKeyAlone_Refused()
        => Assert.Equal("gs HMAC keys need both access-key-id and secret-access-key",
            Assert.Throws<ArgumentException>(() => GsReplicaClient.Create(new GsReplicaSettings { Bucket = "b", AccessKeyId = KeyId })).Message);

    [Theory]
    [InlineData("https://storage.googleapis.com", true)]
    [InlineData("https://storage.googleapis.com:443", true)]
    [InlineData("https://storage.googleapis.com.", true)]
    [InlineData("https://storage.me-central2.rep.googleapis.com", true)]
    [InlineData("https://us-central1-storage.googleapis.com", true)]
    [InlineData("https://storage.mtls.googleapis.com", true)]
    [InlineData("https://storage-upload.googleapis.com", true)]
    [InlineData("https://storage.googleapis.com.evil.com", false)]
    [InlineData("https://bucket.storage.googleapis.com", false)]
    [InlineData("https://backup-storage.us-central1-storage.googleapis.com", false)]
    [InlineData("https://storageinsights.googleapis.com", false)]
    public void S3Endpoint_GoogleCloudStorage_DetectedAsUpstream(string endpoint, bool gcs)
        => Assert.Equal(gcs, S3Provider.Detect(endpoint).Name == "gcs");

    [RequiresFact(Need.S3rver)]
    public async Task Deletes_OneRequestPerObject_AndNoFlexibleChecksums()
    {
        await using var proxy = new FaultProxy(s3.Server.Port, FaultProxy.Fault.StrictProvider, failAlways: true);
        await using var client = new GsHmacReplicaClient(new GsReplicaSettings
        {
            Bucket = S3rver.Bucket,
            Path = S3rverFixture.NewPath("gs-hmac-delete"),
            Endpoint = proxy.Endpoint,
            AccessKeyId = S3rver.Credential,
            SecretAccessKey = S3rver.Credential,
        });
        var files = new List<LtxFileInfo>();
        for (ulong i = 1; i <= 3; i++)
        {
            files.Add(await client.WriteLtxFileAsync(0, new Txid(i), new Txid(i), new MemoryStream(ReplicaClientConformanceTests.Ltx(i, i, T1, 600)), default));
        }

        await client.DeleteLtxFilesAsync(files, default);

        Assert.Empty(await client.ListLtxFilesAsync(0, Txid.Zero, useMetadata: false, default).ToListAsync());
        Assert.Empty(proxy.StrictViolations);
        // One object per DELETE: three distinct requests (s3rver answers a parallel DELETE with a 500 now and then, and
        // the client's retry repeats that same request).
        string[] deletes = [.. proxy.RequestLog.Where(r => r.StartsWith("DELETE ", StringComparison.Ordinal))];
        Assert.All(deletes, r => Assert.StartsWith($"DELETE /{S3rver.Bucket}/{client.Path}/ltx/0/", r, StringComparison.Ordinal));
        Assert.Equal(3, deletes.Distinct().Count());
        Assert.DoesNotContain(proxy.RequestLog, r => r.StartsWith("POST ", StringComparison.Ordinal) && r.Contains("delete", StringComparison.Ordinal));
    }
}
