using Amazon.S3;
using Amazon.S3.Model;
using Litestream.Ltx;
using Litestream.Storage;
using Litestream.Storage.S3;
using Litestream.Tests.Fixtures;

namespace Litestream.Tests.Storage;

/// <summary>S3-only behaviour: the object layout and metadata, paging, multipart, retries and error text.</summary>
[Collection("s3rver")]
public sealed class S3ReplicaClientTests(S3rverFixture s3)
{
    private const long T1 = 1_700_000_001_234;
    private const string KeyId = "AKIDEXAMPLE7QZ";
    private const string Secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    private static async Task<List<string>> RawKeysAsync(AmazonS3Client raw, string prefix)
    {
        var keys = new List<string>();
        var request = new ListObjectsV2Request { BucketName = S3rver.Bucket, Prefix = prefix };
        ListObjectsV2Response page;
        do
        {
            page = await raw.ListObjectsV2Async(request);
            keys.AddRange((page.S3Objects ?? []).Select(o => o.Key));
            request.ContinuationToken = page.NextContinuationToken;
        }
        while (page.IsTruncated == true);
        return keys;
    }

    private static async Task<List<LtxFileInfo>> ListAsync(IReplicaClient client, int level, ulong seek = 0, bool useMetadata = false)
    {
        var files = new List<LtxFileInfo>();
        await foreach (LtxFileInfo file in client.ListLtxFilesAsync(level, new Txid(seek), useMetadata, default))
        {
            files.Add(file);
        }
        return files;
    }

    private static async Task<byte[]> ReadAsync(IReplicaClient client, int level, ulong min, ulong max, long offset = 0, long size = 0)
    {
        await using Stream stream = await client.OpenLtxFileAsync(level, new Txid(min), new Txid(max), offset, size, default);
        var buffer = new MemoryStream();
        await stream.CopyToAsync(buffer);
        return buffer.ToArray();
    }

    [RequiresFact(Need.S3rver)]
    public async Task Write_UsesHexLevelLayout_AndTimestampMetadata()
    {
        string path = S3rverFixture.NewPath("layout");
        await using S3ReplicaClient client = s3.Client(path);
        await client.WriteLtxFileAsync(0, new Txid(5), new Txid(5), new MemoryStream(ReplicaClientConformanceTests.Ltx(5, 5, T1, 300)), default);
        await client.WriteLtxFileAsync(9, new Txid(1), new Txid(0x2a), new MemoryStream(ReplicaClientConformanceTests.Ltx(1, 0x2a, 1_700_000_002_000, 400)), default);
        await client.WriteLtxFileAsync(10, new Txid(1), new Txid(1), new MemoryStream(ReplicaClientConformanceTests.Ltx(1, 1, 1_700_000_002_500, 100)), default);

        using AmazonS3Client raw = s3.RawClient();
        Assert.Equal(
            [$"{path}/0000/0000000000000005-0000000000000005.ltx", $"{path}/0009/0000000000000001-000000000000002a.ltx", $"{path}/000a/0000000000000001-0000000000000001.ltx"],
            await RawKeysAsync(raw, path + "/"));
        GetObjectMetadataResponse head = await raw.GetObjectMetadataAsync(S3rver.Bucket, $"{path}/0000/0000000000000005-0000000000000005.ltx");
        Assert.Equal("2023-11-14T22:13:21.234Z", head.Metadata["x-amz-meta-litestream-timestamp"]);
        Assert.Equal(300, head.ContentLength); // no aws-chunked framing stored as data
        head = await raw.GetObjectMetadataAsync(S3rver.Bucket, $"{path}/0009/0000000000000001-000000000000002a.ltx");
        Assert.Equal("2023-11-14T22:13:22Z", head.Metadata["x-amz-meta-litestream-timestamp"]);
        Assert.Equal(400, head.ContentLength);
    }

    [RequiresFact(Need.S3rver)]
    public async Task List_MoreThanOnePage_AllInOrder_ThenDeletesInBatches()
    {
        const int count = 1005;
        string path = S3rverFixture.NewPath("paged");
        await using S3ReplicaClient client = s3.Client(path);
        await Parallel.ForAsync(1, count + 1, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, token) =>
            await client.WriteLtxFileAsync(3, new Txid((ulong)i), new Txid((ulong)i), new MemoryStream(ReplicaClientConformanceTests.Ltx((ulong)i, (ulong)i, T1 + i, 120)), token));

        List<LtxFileInfo> all = await ListAsync(client, 3);
        Assert.Equal(Enumerable.Range(1, count).Select(i => (ulong)i), all.Select(f => f.MinTxid.Value));
        Assert.All(all, f => Assert.Equal(120, f.Size));

        List<LtxFileInfo> tail = await ListAsync(client, 3, seek: 999, useMetadata: true);
        Assert.Equal(Enumerable.Range(999, 7).Select(i => DateTimeOffset.FromUnixTimeMilliseconds(T1 + i)), tail.Select(f => f.CreatedAt));

        // 1 002 keys in one call: two DeleteObjects batches (1 000 + 2).
        await client.DeleteLtxFilesAsync(all.Take(1002).ToList(), default);
        Assert.Equal([1003UL, 1004UL, 1005UL], (await ListAsync(client, 3)).Select(f => f.MinTxid.Value));
        await client.DeleteAllAsync(default);
        using AmazonS3Client raw = s3.RawClient();
        Assert.Empty(await RawKeysAsync(raw, path + "/"));
    }

    [RequiresFact(Need.S3rver)]
    public async Task List_SmallPages_FollowsContinuationTokens()
    {
        string path = S3rverFixture.NewPath("pages");
        await using S3ReplicaClient client = s3.Client(path);
        client.ListPageSize = 2;
        for (ulong txid = 1; txid <= 5; txid++)
        {
            await client.WriteLtxFileAsync(0, new Txid(txid), new Txid(txid), new MemoryStream(ReplicaClientConformanceTests.Ltx(txid, txid, T1, 100)), default);
        }
        Assert.Equal([1UL, 2, 3, 4, 5], (await ListAsync(client, 0)).Select(f => f.MinTxid.Value));
        Assert.Equal([2UL, 3, 4, 5], (await ListAsync(client, 0, seek: 2, useMetadata: true)).Select(f => f.MinTxid.Value));
        await client.DeleteAllAsync(default);
        Assert.Empty(await ListAsync(client, 0));
    }

    [RequiresFact(Need.S3rver)]
    public async Task Write_AbovePartSize_Multipart_RoundTrips()
    {
        string path = S3rverFixture.NewPath("multipart");
        await using S3ReplicaClient client = new(s3.Settings(path) with { Concurrency = 2 });
        const int size = (11 * 1024 * 1024) + 123; // three parts: 5 MiB, 5 MiB, 1 MiB + 123
        byte[] data = ReplicaClientConformanceTests.Ltx(1, 9, T1, size);
        LtxFileInfo info = await client.WriteLtxFileAsync(1, new Txid(1), new Txid(9), new ReplicaClientConformanceTests.NonSeekableStream(data), default);
        Assert.Equal(new LtxFileInfo(1, new Txid(1), new Txid(9), size, DateTimeOffset.FromUnixTimeMilliseconds(T1)), info);
        Assert.Equal(data, await ReadAsync(client, 1, 1, 9));
        int boundary = 5 * 1024 * 1024;
        Assert.Equal(data[(boundary - 10)..(boundary + 10)], await ReadAsync(client, 1, 1, 9, offset: boundary - 10, size: 20));

        // Exactly one part size from a seekable source: a one-part multipart upload.
        byte[] exact = ReplicaClientConformanceTests.Ltx(10, 10, T1 + 1, boundary);
        LtxFileInfo one = await client.WriteLtxFileAsync(1, new Txid(10), new Txid(10), new MemoryStream(exact), default);
        Assert.Equal(boundary, one.Size);
        Assert.Equal(exact, await ReadAsync(client, 1, 10, 10));

        List<LtxFileInfo> listed = await ListAsync(client, 1, useMetadata: true);
        Assert.Equal([DateTimeOffset.FromUnixTimeMilliseconds(T1), DateTimeOffset.FromUnixTimeMilliseconds(T1 + 1)], listed.Select(f => f.CreatedAt));
        Assert.Equal([(long)size, boundary], listed.Select(f => f.Size));
    }

    /// <summary>A proxy to s3rver that cuts the body of the first request for part 2 (the upload resends the part).</summary>
    private FaultProxy CuttingPartTwoOnce()
    {
        var proxy = new FaultProxy(s3.Server.Port);
        int cut = 0;
        proxy.Inject(FaultProxy.Fault.CutRequestBody, r => r.Contains("partNumber=2", StringComparison.Ordinal) && Interlocked.Exchange(ref cut, 1) == 0);
        return proxy;
    }

    [RequiresFact(Need.S3rver)]
    public async Task Write_FromFile_PartsReadInPlace_FromItsPosition_ACutPartIsResent()
    {
        string path = S3rverFixture.NewPath("multipart-file");
        await using FaultProxy proxy = CuttingPartTwoOnce();
        await using S3ReplicaClient client = new(s3.Settings(path, proxy.Endpoint) with { Concurrency = 2 });
        const int size = (11 * 1024 * 1024) + 123; // three parts: 5 MiB, 5 MiB, 1 MiB + 123
        byte[] data = ReplicaClientConformanceTests.Ltx(1, 9, T1, size);
        string file = Path.Combine(Path.GetTempPath(), $"s3-parts-{Guid.NewGuid():N}.ltx");
        try
        {
            // The upload starts at the stream's position (a snapshot written behind a prefix), bytes still in its buffer included.
            await using (var stream = new FileStream(file, FileMode.Create, FileAccess.ReadWrite))
            {
                stream.Write("prefix!"u8);
                stream.Write(data);
                stream.Position = 7;
                LtxFileInfo info = await client.WriteLtxFileAsync(1, new Txid(1), new Txid(9), stream, default);
                Assert.Equal(new LtxFileInfo(1, new Txid(1), new Txid(9), size, DateTimeOffset.FromUnixTimeMilliseconds(T1)), info);
            }
            Assert.Equal(1, proxy.Faults);
            Assert.Equal(data, await ReadAsync(client, 1, 1, 9));

            // Below the part size: one PutObject of the file's rest.
            byte[] small = ReplicaClientConformanceTests.Ltx(10, 10, T1 + 1, 4000);
            await File.WriteAllBytesAsync(file, small);
            await using (var stream = new FileStream(file, FileMode.Open, FileAccess.Read))
            {
                Assert.Equal(4000, (await client.WriteLtxFileAsync(1, new Txid(10), new Txid(10), stream, default)).Size);
            }
            Assert.Equal(small, await ReadAsync(client, 1, 10, 10));
            Assert.Equal([DateTimeOffset.FromUnixTimeMilliseconds(T1), DateTimeOffset.FromUnixTimeMilliseconds(T1 + 1)], (await ListAsync(client, 1, useMetadata: true)).Select(f => f.CreatedAt));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [RequiresFact(Need.S3rver)]
    public async Task Write_FromFile_ThroughProgress_PartsStillReadInPlace_EachByteCountedOnce()
    {
        string path = S3rverFixture.NewPath("multipart-progress");
        await using FaultProxy proxy = CuttingPartTwoOnce();
        var progress = new CountedProgress();
        await using var client = new ProgressReplicaClient(new S3ReplicaClient(s3.Settings(path, proxy.Endpoint) with { Concurrency = 2 }), progress);
        const int size = (11 * 1024 * 1024) + 123; // three parts: 5 MiB, 5 MiB, 1 MiB + 123
        byte[] data = ReplicaClientConformanceTests.Ltx(1, 9, T1, size);
        string file = Path.Combine(Path.GetTempPath(), $"s3-progress-{Guid.NewGuid():N}.ltx");
        try
        {
            await File.WriteAllBytesAsync(file, [.. "prefix!"u8, .. data]);
            await using (var stream = new FileStream(file, FileMode.Open, FileAccess.Read))
            {
                stream.Position = 7;
                LtxFileInfo info = await client.WriteLtxFileAsync(1, new Txid(1), new Txid(9), stream, default);
                Assert.Equal(size, info.Size);
                // Parts were windows of the file read in place: the stream itself was never read (the buffered path
                // reads it to its end).
                Assert.Equal(7, stream.Position);
            }
            Assert.Equal(1, proxy.Faults);
            // The header peeked at, the part cut and resent: every byte counted once, and the total reached.
            Assert.Equal((size, size, 1, 1), (progress.Bytes, progress.Total, progress.Files, progress.TotalFiles));
            Assert.Equal(data, await ReadAsync(client, 1, 1, 9));
        }
        finally
        {
            File.Delete(file);
        }
    }

    private sealed class CountedProgress : ITransferProgress
    {
        private long _bytes;
        private long _total;
        private int _files;
        private int _totalFiles;

        public long Bytes => Interlocked.Read(ref _bytes);
        public long Total => Interlocked.Read(ref _total);
        public int Files => Volatile.Read(ref _files);
        public int TotalFiles => Volatile.Read(ref _totalFiles);

        public void AddTotal(long bytes, int files)
        {
            Interlocked.Add(ref _total, bytes);
            Interlocked.Add(ref _totalFiles, files);
        }

        public void AddBytes(long bytes) => Interlocked.Add(ref _bytes, bytes);

        public void AddFile() => Interlocked.Increment(ref _files);
    }

    [RequiresFact(Need.S3rver)]
    public async Task Write_ThrottledThenOk_RetriesAndSucceeds()
    {
        string path = S3rverFixture.NewPath("retry");
        await using var proxy = new FaultProxy(s3.Server.Port, FaultProxy.Fault.SlowDown, failFirst: 2);
        await using S3ReplicaClient client = new(s3.Settings(path, proxy.Endpoint));
        byte[] data = ReplicaClientConformanceTests.Ltx(1, 1, T1, 500);
        await client.WriteLtxFileAsync(0, new Txid(1), new Txid(1), new MemoryStream(data), default);
        Assert.Equal(2, proxy.Faults);
        await using S3ReplicaClient direct = s3.Client(path);
        Assert.Equal(data, await ReadAsync(direct, 0, 1, 1));
    }

    [RequiresFact(Need.S3rver)]
    public async Task ListAndRead_DroppedConnections_RetriedTransparently()
    {
        string path = S3rverFixture.NewPath("drop");
        await using (S3ReplicaClient direct = s3.Client(path))
        {
            await direct.WriteLtxFileAsync(0, new Txid(1), new Txid(1), new MemoryStream(ReplicaClientConformanceTests.Ltx(1, 1, T1, 700)), default);
        }
        await using var proxy = new FaultProxy(s3.Server.Port, FaultProxy.Fault.Drop, failFirst: 2);
        await using S3ReplicaClient client = new(s3.Settings(path, proxy.Endpoint));
        Assert.Equal("1", string.Join(",", (await ListAsync(client, 0)).Select(f => f.MinTxid.Value)));
        Assert.Equal(2, proxy.Faults);
        Assert.Equal(ReplicaClientConformanceTests.Ltx(1, 1, T1, 700), await ReadAsync(client, 0, 1, 1));
    }

    [RequiresFact(Need.S3rver)]
    public async Task Write_ServerKeepsFailing_ErrorNamesBucketAndKey_NeverTheSecret()
    {
        string path = S3rverFixture.NewPath("fail");
        await using var proxy = new FaultProxy(s3.Server.Port, FaultProxy.Fault.InternalError, failAlways: true);
        await using S3ReplicaClient client = new(s3.Settings(path, proxy.Endpoint) with { AccessKeyId = KeyId, SecretAccessKey = Secret });
        client.MaxErrorRetries = 2;

        IOException error = await Assert.ThrowsAsync<IOException>(async () =>
            await client.WriteLtxFileAsync(0, new Txid(1), new Txid(1), new MemoryStream(ReplicaClientConformanceTests.Ltx(1, 1, T1, 500)), default));
        Assert.Equal(
            $"s3: put object s3://bkt/{path}/0000/0000000000000001-0000000000000001.ltx: InternalError (HTTP 500): We encountered an internal error. Please try again.",
            error.Message);
        Assert.Equal(3, proxy.Faults); // the first attempt and two retries
        Assert.DoesNotContain(Secret, error.ToString());
        Assert.DoesNotContain(KeyId, error.ToString());
        Assert.DoesNotContain(Secret, client.ToString());

        IOException read = await Assert.ThrowsAsync<IOException>(async () => await client.OpenLtxFileAsync(0, new Txid(1), new Txid(1), 0, 0, default));
        Assert.Equal(
            $"s3: get object s3://bkt/{path}/0000/0000000000000001-0000000000000001.ltx: InternalError (HTTP 500): We encountered an internal error. Please try again.",
            read.Message);
        IOException list = await Assert.ThrowsAsync<IOException>(async () => await ListAsync(client, 2));
        Assert.Equal($"s3: list s3://bkt/{path}/0002/: InternalError (HTTP 500): We encountered an internal error. Please try again.", list.Message);
        Assert.Equal(9, proxy.Faults);
    }

    [RequiresFact(Need.S3rver)]
    public async Task Open_MissingBucket_IsAnErrorNotNotFound()
    {
        await using S3ReplicaClient client = new(s3.Settings("x") with { Bucket = "no-such-bucket" });
        IOException error = await Assert.ThrowsAsync<IOException>(async () => await client.OpenLtxFileAsync(0, new Txid(1), new Txid(1), 0, 0, default));
        Assert.IsNotType<ReplicaFileNotFoundException>(error);
        Assert.StartsWith("s3: get object s3://no-such-bucket/x/0000/0000000000000001-0000000000000001.ltx: NoSuchBucket (HTTP 404): ", error.Message);
    }

    [Theory]
    [InlineData(1_700_000_001_234, "2023-11-14T22:13:21.234Z")]
    [InlineData(1_700_000_001_230, "2023-11-14T22:13:21.23Z")]
    [InlineData(1_700_000_001_000, "2023-11-14T22:13:21Z")]
    [InlineData(0, "1970-01-01T00:00:00Z")]
    public void Timestamp_FormatsAsGoRfc3339Nano_AndParsesBack(long ms, string text)
    {
        Assert.Equal(text, ReplicaTimestamp.Format(DateTimeOffset.FromUnixTimeMilliseconds(ms)));
        Assert.True(ReplicaTimestamp.TryParse(text, out DateTimeOffset parsed));
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(ms), parsed);
    }

    [Theory]
    [InlineData("2023-11-14T22:13:21.123456789Z", 638355968011234567L)]
    [InlineData("2023-11-14T23:13:21.5+01:00", 638355968015000000L)]
    public void Timestamp_ParsesNanosecondsAndOffsets(string text, long utcTicks)
    {
        Assert.True(ReplicaTimestamp.TryParse(text, out DateTimeOffset parsed));
        Assert.Equal(utcTicks, parsed.UtcTicks);
        Assert.Equal(TimeSpan.Zero, parsed.Offset);
    }

    [Theory]
    [InlineData("")]
    [InlineData(null)]
    [InlineData("yesterday")]
    public void Timestamp_Garbage_NotParsed(string? text) => Assert.False(ReplicaTimestamp.TryParse(text, out _));

    [Fact]
    public async Task Create_FromUrl_LayoutAndDescription()
    {
        await using IReplicaClient client = ReplicaClientFactory.Create(new ReplicaSettings { Url = "s3://bkt/app/db?endpoint=http://127.0.0.1:9&region=eu-west-3" });
        S3ReplicaClient s3Client = Assert.IsType<S3ReplicaClient>(client);
        Assert.Equal("s3", client.Type);
        Assert.Equal("bkt", s3Client.Bucket);
        Assert.Equal("app/db", s3Client.Path);
        Assert.Equal("app/db/0009/", s3Client.LevelPrefix(9));
        Assert.Equal("app/db/0000/0000000000000005-0000000000000005.ltx", s3Client.LtxKey(0, new Txid(5), new Txid(5)));
        Assert.Equal("s3://bkt/app/db", client.ToString());
        Assert.Contains("s3", ReplicaClientFactory.Names);
    }

    [Fact]
    public async Task Create_UrlWithoutPath_UsesDotLikeUpstream()
    {
        await using var client = (S3ReplicaClient)ReplicaClientFactory.Create(new ReplicaSettings { Url = "s3://bkt?endpoint=http://127.0.0.1:9" });
        Assert.Equal("./0000/0000000000000001-0000000000000001.ltx", client.LtxKey(0, new Txid(1), new Txid(1)));
    }

    [Theory]
    [InlineData(null, 0, 0, "s3 replica requires a bucket")]
    [InlineData("b", 1024, 0, "s3 part-size must be between 5242880 and 1073741824 bytes, got 1024")]
    [InlineData("b", 0, 100, "s3 concurrency must be between 1 and 64, got 100")]
    public void Create_BadSettings_SpecificError(string? bucket, long partSize, int concurrency, string message)
    {
        var error = Assert.Throws<ArgumentException>(() => new S3ReplicaClient(new S3ReplicaSettings { Bucket = bucket, Path = "p", PartSize = partSize, Concurrency = concurrency, Endpoint = "http://127.0.0.1:9" }));
        Assert.Equal(message, error.Message);
    }

    [Fact]
    public void Create_HalfACredential_Rejected_WithoutEchoingIt()
    {
        var error = Assert.Throws<ArgumentException>(() => new S3ReplicaClient(new S3ReplicaSettings { Bucket = "b", Path = "p", SecretAccessKey = Secret, Endpoint = "http://127.0.0.1:9" }));
        Assert.Equal("s3 credentials need both an access key id and a secret access key", error.Message);
    }

    [Fact]
    public void Settings_ToString_HidesEveryCredential()
    {
        var settings = new S3ReplicaSettings
        {
            Bucket = "bkt",
            Path = "db",
            AccessKeyId = KeyId,
            SecretAccessKey = Secret,
            SseCustomerKey = "c2VjcmV0LXNzZS1rZXk=",
            PartSize = 64L << 20,
        };
        Assert.Equal("S3ReplicaSettings { Path = db, Bucket = bkt, PartSize = 67108864, AccessKeyId = REDACTED, SecretAccessKey = REDACTED, SseCustomerKey = REDACTED }", settings.ToString());
    }

    /// <summary>
    /// A URL plus explicit keys (the Hosting path: <c>ReplicaSettings { Url, Options }</c>): every explicit key
    /// reaches the client, the URL fills in only what they leave unset. Before, all but four were dropped (a
    /// part size of 64 MiB came back as 5 MiB, the storage class as null).
    /// </summary>
    [Fact]
    public async Task Create_UrlAndExplicitKeys_ExplicitKeysWin_UrlFillsTheRest()
    {
        await using var client = (S3ReplicaClient)ReplicaClientFactory.Create(new ReplicaSettings
        {
            Url = "s3://bkt/app/db?endpoint=http://127.0.0.1:9&region=eu-west-3&partSize=6291456&concurrency=3",
            Options = new Dictionary<string, string>
            {
                ["part-size"] = "64MiB",
                ["storage-class"] = "STANDARD_IA",
                ["sse-kms-key-id"] = "kms-1",
                ["sign-payload"] = "false",
                ["require-content-md5"] = "false",
                ["force-path-style"] = "false",
                ["access-key-id"] = KeyId,
                ["secret-access-key"] = Secret,
            },
        });
        S3ReplicaSettings s = client.Settings;
        Assert.Equal(("bkt", "app/db", "eu-west-3", "http://127.0.0.1:9"), (s.Bucket, s.Path, s.Region, s.Endpoint));
        Assert.Equal((64L << 20, 3, "STANDARD_IA", "kms-1"), (s.PartSize, s.Concurrency, s.StorageClass, s.SseKmsKeyId));
        Assert.Equal(((bool?)false, (bool?)false, (bool?)false, KeyId, Secret), (s.SignPayload, s.RequireContentMd5, s.ForcePathStyle, s.AccessKeyId, s.SecretAccessKey));
    }

    [Fact]
    public void Create_BadKeyValue_NamesKeyAndValue_ExceptASecret()
    {
        Assert.Equal("part-size: invalid size \"big\"", Assert.Throws<ArgumentException>(() => ReplicaClientFactory.Create(
            new ReplicaSettings { Url = "s3://bkt/db", Options = new Dictionary<string, string> { ["part-size"] = "big" } })).Message);
        Assert.Equal("concurrency: invalid integer \"x\"", Assert.Throws<ArgumentException>(() => ReplicaClientFactory.Create(
            new ReplicaSettings { Url = "s3://bkt/db?concurrency=x" })).Message);
    }
}
