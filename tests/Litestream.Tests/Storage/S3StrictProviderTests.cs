using Litestream.Ltx;
using Litestream.Storage.S3;
using Litestream.Tests.Fixtures;

namespace Litestream.Tests.Storage;

/// <summary>
/// Every request the S3 client makes passes a provider that refuses the AWS SDK's flexible checksums
/// (x-amz-checksum-*, trailers), aws-chunked or chunked bodies and multi-object deletes without Content-MD5,
/// as B2, older MinIO, OSS and others do: the fault proxy plays that provider in front of s3rver.
/// </summary>
[Collection("s3rver")]
public sealed class S3StrictProviderTests(S3rverFixture s3)
{
    private const long T1 = 1_700_000_001_234;

    [RequiresFact(Need.S3rver)]
    public async Task EveryOperation_PassesAProviderThatRefusesChecksumsAndChunkedBodies()
    {
        await using var proxy = new FaultProxy(s3.Server.Port, FaultProxy.Fault.StrictProvider, failAlways: true);
        await using var client = new S3ReplicaClient(s3.Settings(S3rverFixture.NewPath("strict"), proxy.Endpoint) with { MaxRetries = 0 });
        byte[] small = ReplicaClientConformanceTests.Ltx(1, 1, T1, 700);
        byte[] large = ReplicaClientConformanceTests.Ltx(2, 9, T1, (11 * 1024 * 1024) + 5); // three parts
        LtxFileInfo a = await client.WriteLtxFileAsync(0, new Txid(1), new Txid(1), new MemoryStream(small), default);
        LtxFileInfo b = await client.WriteLtxFileAsync(1, new Txid(2), new Txid(9), new ReplicaClientConformanceTests.NonSeekableStream(large), default);

        var listed = new List<LtxFileInfo>();
        await foreach (LtxFileInfo file in client.ListLtxFilesAsync(1, Txid.Zero, useMetadata: true, default))
        {
            listed.Add(file);
        }
        Assert.Equal([b with { CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(T1) }], listed);
        await using (Stream body = await client.OpenLtxFileAsync(1, new Txid(2), new Txid(9), 100, 5000, default))
        {
            var copy = new MemoryStream();
            await body.CopyToAsync(copy);
            Assert.Equal(large[100..5100], copy.ToArray());
        }
        await client.DeleteLtxFilesAsync([a], default);
        await client.DeleteAllAsync(default);

        Assert.Empty(proxy.StrictViolations);
        Assert.Contains(proxy.RequestLog, r => r.StartsWith("POST ", StringComparison.Ordinal) && r.Contains("delete", StringComparison.Ordinal));
        Assert.Contains(proxy.RequestLog, r => r.StartsWith("PUT ", StringComparison.Ordinal) && r.Contains("partNumber=3", StringComparison.Ordinal));
    }

    /// <summary>The proxy really is strict: the SDK's defaults (checksums on, chunked uploads) fail through it.</summary>
    [RequiresFact(Need.S3rver)]
    public async Task SdkDefaults_AreRefusedByTheStrictProvider()
    {
        await using var proxy = new FaultProxy(s3.Server.Port, FaultProxy.Fault.StrictProvider, failAlways: true);
        using var raw = new Amazon.S3.AmazonS3Client(new Amazon.Runtime.BasicAWSCredentials(S3rver.Credential, S3rver.Credential), new Amazon.S3.AmazonS3Config
        {
            ServiceURL = proxy.Endpoint,
            ForcePathStyle = true,
            AuthenticationRegion = "us-east-1",
            MaxErrorRetry = 0,
        });
        await Assert.ThrowsAnyAsync<Amazon.Runtime.AmazonServiceException>(() => raw.PutObjectAsync(new Amazon.S3.Model.PutObjectRequest
        {
            BucketName = S3rver.Bucket,
            Key = S3rverFixture.NewPath("default") + "/x",
            InputStream = new MemoryStream(new byte[100]),
        }));
        Assert.Contains(proxy.StrictViolations, v => v.StartsWith("PUT ", StringComparison.Ordinal));
    }
}
