using Litestream.Storage.S3;

namespace Litestream.Tests.Storage;

/// <summary>Provider detection from the endpoint (upstream's Is…Endpoint) and what each provider gets.</summary>
public sealed class S3ProviderTests
{
    [Theory]
    [InlineData(null, "aws", null, null, null, false)]
    [InlineData("https://fly.storage.tigris.dev", "tigris", null, false, null, true)]
    [InlineData("https://t3.storage.dev", "tigris", null, false, null, true)]
    [InlineData("https://abc123.r2.cloudflarestorage.com", "r2", null, null, 2, false)]
    [InlineData("https://s3.us-west-004.backblazeb2.com", "b2", true, null, null, false)]
    [InlineData("https://s3.filebase.com", "filebase", true, null, null, false)]
    [InlineData("https://proj.supabase.co/storage/v1/s3", "supabase", true, null, null, false)]
    [InlineData("https://nyc3.digitaloceanspaces.com", "digitalocean", null, null, null, false)]
    [InlineData("https://s3.fr-par.scw.cloud", "scaleway", null, null, null, false)]
    [InlineData("https://fsn1.your-objectstorage.com", "hetzner", null, null, null, false)]
    [InlineData("https://oss-cn-hangzhou.aliyuncs.com", "oss", false, null, null, false)]
    [InlineData("http://minio.internal:9000", "minio", true, null, null, false)]
    [InlineData("http://127.0.0.1:9000", "minio", true, null, null, false)]
    [InlineData("https://s3.example.com", "other", null, null, null, false)]
    [InlineData("https://key:secret@s3.us-east-1.amazonaws.com:443", "aws", null, null, null, false)]
    public void Detect_FromEndpointHost(string? endpoint, string name, bool? pathStyle, bool? contentMd5, int? concurrency, bool consistent)
        => Assert.Equal(new S3Provider(name, pathStyle, contentMd5, concurrency, consistent), S3Provider.Detect(endpoint));

    [Theory]
    [InlineData("localhost:9000", "http://localhost:9000")]
    [InlineData("127.0.0.1:9000", "http://127.0.0.1:9000")]
    [InlineData("192.168.1.5:9000", "http://192.168.1.5:9000")]
    [InlineData("172.20.0.2:9000", "http://172.20.0.2:9000")]
    [InlineData("172.32.0.2", "https://172.32.0.2")]
    [InlineData("minio.local:9000", "http://minio.local:9000")]
    [InlineData("fly.storage.tigris.dev", "https://fly.storage.tigris.dev")]
    [InlineData("https://x.example", "https://x.example")]
    public void WithScheme_LocalHttp_ElseHttps(string endpoint, string expected) => Assert.Equal(expected, S3Provider.WithScheme(endpoint));

    [Fact]
    public async Task Client_ProviderDefaults_UserSettingsWin()
    {
        await using var r2 = new S3ReplicaClient(new S3ReplicaSettings { Bucket = "b", Endpoint = "https://abc.r2.cloudflarestorage.com" });
        await using var r2Explicit = new S3ReplicaClient(new S3ReplicaSettings { Bucket = "b", Endpoint = "https://abc.r2.cloudflarestorage.com", Concurrency = 8 });
        Assert.Equal(("r2", 2, 8), (r2.Provider.Name, r2.Concurrency, r2Explicit.Concurrency));
        await using var tigris = new S3ReplicaClient(new S3ReplicaSettings { Bucket = "b", Endpoint = "fly.storage.tigris.dev" });
        await using var tigrisMd5 = new S3ReplicaClient(new S3ReplicaSettings { Bucket = "b", Endpoint = "fly.storage.tigris.dev", RequireContentMd5 = true });
        Assert.Equal((false, true), (tigris.RequireContentMd5, tigrisMd5.RequireContentMd5));
        await using var local = new S3ReplicaClient(new S3ReplicaSettings { Bucket = "b", Endpoint = "localhost:9000" });
        Assert.Equal(("http://localhost:9000", true), (local.Endpoint, local.ForcePathStyle));
        await using var oss = new S3ReplicaClient(new S3ReplicaSettings { Bucket = "b", Endpoint = "oss-cn-hangzhou.aliyuncs.com" });
        Assert.Equal(("https://oss-cn-hangzhou.aliyuncs.com", false), (oss.Endpoint, oss.ForcePathStyle));
    }
}
