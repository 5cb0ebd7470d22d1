using Litestream.Storage;

namespace Litestream.Tests.Storage;

public class ReplicaUrlTests
{
    private static string? Option(ReplicaSettings s, string key) => s.Options.TryGetValue(key, out string? value) ? value : null;

    [Fact]
    public void Parse_FileUrl()
    {
        ReplicaSettings s = ReplicaUrl.Parse("file:///backups/db");
        Assert.Equal(("file", "/backups/db", "file:///backups/db"), (s.Type, s.Path, s.Url));
        Assert.Empty(s.Options);
    }

    [Fact]
    public void Parse_BarePath_IsFileReplica()
    {
        ReplicaSettings s = ReplicaUrl.Parse("backups/db");
        Assert.Equal(("file", Path.GetFullPath("backups/db")), (s.Type, s.Path));
    }

    [Fact]
    public void Parse_S3WithQuery_NamesUpstreamKeys()
    {
        ReplicaSettings s = ReplicaUrl.Parse("s3://bkt/app/db?endpoint=http://127.0.0.1:9000&region=us-east-1&forcePathStyle=true&part-size=1048576&storageClass=GLACIER");
        Assert.Equal(("s3", "app/db"), (s.Type, s.Path));
        Assert.Equal(
            "bucket=bkt endpoint=http://127.0.0.1:9000 force-path-style=true part-size=1048576 region=us-east-1 storage-class=GLACIER",
            string.Join(' ', s.Options.OrderBy(o => o.Key, StringComparer.Ordinal).Select(o => $"{o.Key}={o.Value}")));
    }

    [Fact]
    public void Parse_Gs_HostIsBucket_PathIsPrefix_NeverEchoesPassword()
    {
        ReplicaSettings s = ReplicaUrl.Parse("gs://bob:hunter2@my-bucket/backups/db/");
        Assert.Equal(("gs", "backups/db"), (s.Type, s.Path));
        Assert.Equal("bucket=my-bucket", string.Join(' ', s.Options.Select(o => $"{o.Key}={o.Value}")));
        Assert.Equal("ReplicaSettings { Type = gs, Url = gs://REDACTED@my-bucket/backups/db/, Path = backups/db, bucket = my-bucket }", s.ToString());
        Assert.Equal("invalid gs replica url \"gs:///db\": bucket required (gs://bucket/path)", Assert.Throws<ArgumentException>(() => ReplicaUrl.Parse("gs:///db")).Message);
    }

    [Fact]
    public void Parse_Sftp_AbsolutePathHostUserPassword_AsUpstream()
    {
        ReplicaSettings s = ReplicaUrl.Parse("sftp://bob:hunter2@example.com:2222/backups/db");
        Assert.Equal(("sftp", "/backups/db"), (s.Type, s.Path));
        Assert.Equal("host=example.com:2222 password=hunter2 user=bob",
            string.Join(' ', s.Options.OrderBy(o => o.Key, StringComparer.Ordinal).Select(o => $"{o.Key}={o.Value}")));
        Assert.DoesNotContain("hunter2", s.ToString());
    }

    [Theory]
    [InlineData("webdav://bob:hunter2@dav.example.com:8080/backups/db", "webdav", "http://dav.example.com:8080")]
    [InlineData("webdavs://bob:hunter2@dav.example.com/backups/db/", "webdavs", "https://dav.example.com")]
    public void Parse_WebDav_ServerLoginAndPath_AsUpstream(string url, string type, string server)
    {
        ReplicaSettings s = ReplicaUrl.Parse(url);
        Assert.Equal((type, "backups/db"), (s.Type, s.Path));
        Assert.Equal($"webdav-password=hunter2 webdav-url={server} webdav-username=bob",
            string.Join(' ', s.Options.OrderBy(o => o.Key, StringComparer.Ordinal).Select(o => $"{o.Key}={o.Value}")));
        Assert.DoesNotContain("hunter2", s.ToString());
    }

    [Fact]
    public void Parse_WebDav_NoHost_Invalid()
    {
        ArgumentException e = Assert.Throws<ArgumentException>(() => ReplicaUrl.Parse("webdav:///backups"));
        Assert.Equal("invalid webdav replica url \"webdav:///backups\": host required (webdav://[user[:password]@]host[:port]/path)", e.Message);
    }

    [Fact]
    public void Split_UserInfo_CutAtTheLastAt()
    {
        ReplicaUrlParts url = ReplicaUrl.Split("sftp://bob:p%40ss@word@host:22/x/y?a=1&B=%2F");
        Assert.Equal(("sftp", "bob", "p@ss@word", "host:22", "x/y"), (url.Scheme, url.User, url.Password, url.Host, url.Path));
        Assert.Equal(("1", "/"), (url.Get("a"), url.Get("b")));
        Assert.Equal("sftp://REDACTED@host:22/x/y?a=1&B=%2F", url.Redacted);
    }

    [Fact]
    public void Redact_SecretQueryValues_Replaced()
        => Assert.Equal("s3://bkt/db?endpoint=http://x:1&sseCustomerKey=REDACTED&region=r&sse-customer-key=REDACTED&password=REDACTED",
            ReplicaUrl.Redact("s3://bkt/db?endpoint=http://x:1&sseCustomerKey=c2VjcmV0LWtleQ==&region=r&sse-customer-key=k&password=p"));

    [Fact]
    public void Parse_UnknownScheme_NamesIt()
        => Assert.Equal("unknown replica url scheme \"ftp\" in \"ftp://x/y\"", Assert.Throws<ArgumentException>(() => ReplicaUrl.Parse("ftp://x/y")).Message);

    [Fact]
    public void Parse_FileUrlWithHost_Rejected()
        => Assert.Equal("invalid file replica url \"file://host/path\": host must be empty (file:///absolute/path), or . or .. for a relative path (file://./path)",
            Assert.Throws<ArgumentException>(() => ReplicaUrl.Parse("file://host/path")).Message);

    [Theory]
    [InlineData("file://./replica", "./replica")]
    [InlineData("file://../demo/replica", "../demo/replica")]
    [InlineData("file://..", "..")]
    public void Parse_FileUrlDotHost_IsARelativePath(string url, string path)
    {
        // Left relative: the working directory (command line) or the config file's directory (config) completes it.
        ReplicaSettings s = ReplicaUrl.Parse(url);
        Assert.Equal(("file", path), (s.Type, s.Path));
        Assert.Equal(Path.GetFullPath(path), Assert.IsType<Litestream.Storage.File.FileReplicaClient>(ReplicaClientFactory.Create(s)).Root);
    }

    [Fact]
    public void Parse_S3WithoutBucket_Rejected_WithoutPassword()
        => Assert.Equal("invalid s3 replica url \"s3://REDACTED@/db\": bucket required",
            Assert.Throws<ArgumentException>(() => ReplicaUrl.Parse("s3://id:Pw-7f3kQz9@/db")).Message);

    [Fact]
    public void Settings_ToString_SecretKeysRedacted()
    {
        var s = new ReplicaSettings
        {
            Type = "s3",
            Url = "s3://bkt/db?sseCustomerKey=k3y",
            Options = new Dictionary<string, string> { ["bucket"] = "bkt", ["secret-access-key"] = "wJalr", ["access-key-id"] = "AKID", ["part-size"] = "64MiB" },
        };
        Assert.Equal("ReplicaSettings { Type = s3, Url = s3://bkt/db?sseCustomerKey=REDACTED, access-key-id = REDACTED, bucket = bkt, part-size = 64MiB, secret-access-key = REDACTED }", s.ToString());
        Assert.Equal("s3", Option(s, "bucket") is null ? null : s.Type);
    }
}
