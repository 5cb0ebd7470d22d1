using Litestream.Storage;

namespace Litestream.Tests.Storage;

/// <summary>Provider host names in s3:// URLs (upstream ParseHost), through <see cref="ReplicaUrl.Parse"/>.</summary>
public class S3HostTests
{
    [Theory]
    [InlineData("s3://bkt/db", "bkt", "db", null, null, null)]
    [InlineData("s3://my.dotted.bucket/db", "my.dotted.bucket", "db", null, null, null)]
    [InlineData("s3://bkt.s3.us-west-2.amazonaws.com/db", "bkt", "db", "us-west-2", null, null)]
    [InlineData("s3://my.bkt.s3-eu-west-1.amazonaws.com/a/b", "my.bkt", "a/b", "eu-west-1", null, null)]
    [InlineData("s3://bkt.s3.amazonaws.com/db", "bkt", "db", null, null, null)]
    [InlineData("s3://s3-logs.s3.amazonaws.com/db", "s3-logs", "db", null, null, null)]
    [InlineData("s3://bkt.nyc3.digitaloceanspaces.com/db", "bkt", "db", "nyc3", "https://nyc3.digitaloceanspaces.com", true)]
    [InlineData("s3://bkt.us-east-1.linodeobjects.com/db", "bkt", "db", "us-east-1", "https://us-east-1.linodeobjects.com", true)]
    [InlineData("s3://bkt.s3.us-west-004.backblazeb2.com/db", "bkt", "db", "us-west-004", "https://s3.us-west-004.backblazeb2.com", true)]
    [InlineData("s3://bkt.s3.fr-par.scw.cloud/db", "bkt", "db", "fr-par", "https://s3.fr-par.scw.cloud", true)]
    [InlineData("s3://bkt.s3.filebase.com/db", "bkt", "db", null, "https://s3.filebase.com", true)]
    [InlineData("s3://bkt.localhost:9000/db", "bkt", "db", null, "http://localhost:9000", true)]
    [InlineData("s3://bkt.minio.internal:9000/db", "bkt", "db", null, "http://minio.internal:9000", true)]
    [InlineData("s3://bkt.s3.us-west-2.amazonaws.com/db?region=eu-central-1", "bkt", "db", "eu-central-1", null, null)]
    [InlineData("s3://bkt.nyc3.digitaloceanspaces.com/db?endpoint=https://cdn.example&forcePathStyle=false", "bkt", "db", "nyc3", "https://cdn.example", false)]
    [InlineData("s3://arn:aws:s3:us-east-2:123456789012:accesspoint/my-ap/db/x", "arn:aws:s3:us-east-2:123456789012:accesspoint/my-ap", "db/x", "us-east-2", null, null)]
    public void Parse_ProviderHosts(string url, string bucket, string path, string? region, string? endpoint, bool? pathStyle)
    {
        ReplicaSettings s = ReplicaUrl.Parse(url);
        Assert.Equal(("s3", bucket, path, region, endpoint, pathStyle), (s.Type, s.Bucket, s.Path, s.Region, s.Endpoint, s.ForcePathStyle));
        Assert.Equal(url, s.Url);
    }

    [Fact]
    public void Parse_UserInfo_IsNotTheBucketAndNeverKept()
    {
        ReplicaSettings s = ReplicaUrl.Parse("s3://AKIDKEY:wJalrSecret@bkt/db?region=us-east-1");
        Assert.Equal(("bkt", "db", (string?)null, (string?)null), (s.Bucket, s.Path, s.AccessKeyId, s.SecretAccessKey));
        Assert.Equal("s3://REDACTED@bkt/db?region=us-east-1", s.Url); // the key id is half the pair
    }
}
