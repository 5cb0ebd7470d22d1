using Litestream.Storage;

namespace Litestream.Tests.Storage;

/// <summary>Provider host names in s3:// URLs (upstream ParseHost), through <see cref="ReplicaUrl.Parse"/>.</summary>
public class S3HostTests
{
    private static string? Option(ReplicaSettings s, string key) => s.Options.TryGetValue(key, out string? value) ? value : null;

    [Theory]
    [InlineData("s3://bkt/db", "bkt", "db", null, null, null)]
    [InlineData("s3://bkt", "bkt", ".", null, null, null)]
    [InlineData("s3://my.dotted.bucket/db", "my.dotted.bucket", "db", null, null, null)]
    [InlineData("s3://bkt.s3.us-west-2.amazonaws.com/db", "bkt", "db", "us-west-2", null, null)]
    [InlineData("s3://my.bkt.s3-eu-west-1.amazonaws.com/a/b", "my.bkt", "a/b", "eu-west-1", null, null)]
    [InlineData("s3://bkt.s3.amazonaws.com/db", "bkt", "db", null, null, null)]
    [InlineData("s3://s3-logs.s3.amazonaws.com/db", "s3-logs", "db", null, null, null)]
    [InlineData("s3://bkt.nyc3.digitaloceanspaces.com/db", "bkt", "db", "nyc3", "https://nyc3.digitaloceanspaces.com", null)]
    [InlineData("s3://bkt.us-east-1.linodeobjects.com/db", "bkt", "db", "us-east-1", "https://us-east-1.linodeobjects.com", null)]
    [InlineData("s3://bkt.s3.us-west-004.backblazeb2.com/db", "bkt", "db", "us-west-004", "https://s3.us-west-004.backblazeb2.com", null)]
    [InlineData("s3://bkt.s3.fr-par.scw.cloud/db", "bkt", "db", "fr-par", "https://s3.fr-par.scw.cloud", null)]
    [InlineData("s3://bkt.s3.filebase.com/db", "bkt", "db", null, "https://s3.filebase.com", null)]
    [InlineData("s3://bkt.localhost:9000/db", "bkt", "db", null, "http://localhost:9000", null)]
    [InlineData("s3://bkt.minio.internal:9000/db", "bkt", "db", null, "http://minio.internal:9000", null)]
    [InlineData("s3://bkt.s3.us-west-2.amazonaws.com/db?region=eu-central-1", "bkt", "db", "eu-central-1", null, null)]
    [InlineData("s3://bkt.nyc3.digitaloceanspaces.com/db?endpoint=https://cdn.example&forcePathStyle=false", "bkt", "db", "nyc3", "https://cdn.example", "false")]
    [InlineData("s3://arn:aws:s3:us-east-2:123456789012:accesspoint/my-ap/db/x", "arn:aws:s3:us-east-2:123456789012:accesspoint/my-ap", "db/x", "us-east-2", null, null)]
    public void Parse_ProviderHosts(string url, string bucket, string path, string? region, string? endpoint, string? pathStyle)
    {
        ReplicaSettings s = ReplicaUrl.Parse(url);
        Assert.Equal(("s3", bucket, path, region, endpoint, pathStyle),
            (s.Type, Option(s, "bucket"), s.Path, Option(s, "region"), Option(s, "endpoint"), Option(s, "force-path-style")));
        Assert.Equal(url, s.Url);
    }

    [Fact]
    public void Parse_UserInfo_IsNotTheBucketAndNeverUsed()
    {
        ReplicaSettings s = ReplicaUrl.Parse("s3://AKIDKEY:wJalrSecret@bkt/db?region=us-east-1");
        Assert.Equal(("bkt", "db", (string?)null, (string?)null), (Option(s, "bucket"), s.Path, Option(s, "access-key-id"), Option(s, "secret-access-key")));
        Assert.DoesNotContain("wJalrSecret", s.ToString());
    }
}
