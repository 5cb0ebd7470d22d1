using Litestream.Storage;
using Litestream.Storage.Oss;
using Litestream.Storage.S3;

namespace Litestream.Tests.Storage;

/// <summary>OSS's rules over the S3 client: host names, region and endpoint defaults, addressing, credentials.</summary>
public sealed class OssReplicaClientTests
{
    [Theory]
    [InlineData("oss://bkt/db", "bkt", "db", null)]
    [InlineData("oss://bkt", "bkt", ".", null)]
    [InlineData("oss://bkt.oss-cn-shanghai.aliyuncs.com/a/b", "bkt", "a/b", "cn-shanghai")]
    [InlineData("oss://bkt.oss-cn-beijing-internal.aliyuncs.com/db", "bkt", "db", "cn-beijing")]
    [InlineData("oss://bkt.oss-ap-southeast-1.aliyuncs.com/db?region=eu-central-1", "bkt", "db", "eu-central-1")]
    public void ParseUrl_OssHosts(string url, string bucket, string path, string? region)
    {
        ReplicaSettings s = ReplicaUrl.Parse(url);
        Assert.Equal(("oss", bucket, path, region), (s.Type, s.Options["bucket"], s.Path, s.Options.TryGetValue("region", out string? r) ? r : null));
    }

    [Fact]
    public void ParseUrl_NoBucket_Rejected()
        => Assert.Equal("invalid oss replica url \"oss://oss-cn-hangzhou.aliyuncs.com/db\": bucket required",
            Assert.Throws<ArgumentException>(() => ReplicaUrl.Parse("oss://oss-cn-hangzhou.aliyuncs.com/db")).Message);

    [Fact]
    public async Task Defaults_HangzhouEndpoint_VirtualHosts_ContentMd5()
    {
        await using var client = (OssReplicaClient)ReplicaClientFactory.Create(new ReplicaSettings
        {
            Url = "oss://bkt/db",
            Options = new Dictionary<string, string> { ["access-key-id"] = "LTAIexample", ["secret-access-key"] = "oss-secret-example" },
        });
        S3ReplicaSettings s3 = OssReplicaClient.ToS3(new OssReplicaSettings { Bucket = "bkt", Path = "db" });
        Assert.Equal(("https://oss-cn-hangzhou.aliyuncs.com", "cn-hangzhou", (bool?)false, (bool?)true), (s3.Endpoint, s3.Region, s3.ForcePathStyle, s3.RequireContentMd5));
        Assert.Equal(("oss", "oss://bkt/db", "db/0009/"), (client.Type, client.ToString(), client.LevelPrefix(9)));
        Assert.Equal("oss", client.Provider.Name);
        Assert.Equal("OssReplicaSettings { Path = db, Bucket = bkt, AccessKeyId = REDACTED, SecretAccessKey = REDACTED }",
            new OssReplicaSettings { Path = "db", Bucket = "bkt", AccessKeyId = "LTAIexample", SecretAccessKey = "oss-secret-example" }.ToString());
    }

    [Fact]
    public void CustomEndpoint_PathStyle_RegionKept()
    {
        S3ReplicaSettings s3 = OssReplicaClient.ToS3(new OssReplicaSettings { Bucket = "bkt", Region = "cn-shanghai", Endpoint = "http://127.0.0.1:9000" });
        Assert.Equal(("http://127.0.0.1:9000", "cn-shanghai", (bool?)true), (s3.Endpoint, s3.Region, s3.ForcePathStyle));
        S3ReplicaSettings internalEndpoint = OssReplicaClient.ToS3(new OssReplicaSettings { Bucket = "bkt", Endpoint = "oss-cn-shanghai-internal.aliyuncs.com" });
        Assert.Equal((bool?)false, internalEndpoint.ForcePathStyle);
    }

    [Fact]
    public void Credentials_FromOssEnvironment_WhenNotSet()
    {
        Environment.SetEnvironmentVariable("OSS_ACCESS_KEY_ID", "LTAIfromenv");
        Environment.SetEnvironmentVariable("OSS_ACCESS_KEY_SECRET", "secret-from-env");
        try
        {
            S3ReplicaSettings s3 = OssReplicaClient.ToS3(new OssReplicaSettings { Bucket = "bkt" });
            Assert.Equal(("LTAIfromenv", "secret-from-env"), (s3.AccessKeyId, s3.SecretAccessKey));
            S3ReplicaSettings explicitKeys = OssReplicaClient.ToS3(new OssReplicaSettings { Bucket = "bkt", AccessKeyId = "id", SecretAccessKey = "s" });
            Assert.Equal(("id", "s"), (explicitKeys.AccessKeyId, explicitKeys.SecretAccessKey));
        }
        finally
        {
            Environment.SetEnvironmentVariable("OSS_ACCESS_KEY_ID", null);
            Environment.SetEnvironmentVariable("OSS_ACCESS_KEY_SECRET", null);
        }
    }
}
