using Amazon.S3;
using Amazon.S3.Model;
using Litestream.Ltx;
using Litestream.Storage;
using Litestream.Storage.S3;
using Litestream.Tests.Fixtures;

namespace Litestream.Tests.Storage;

/// <summary>The replica client contract on the S3 backend, against a local s3rver.</summary>
[Collection("s3rver")]
[Requires(Need.S3rver)]
public sealed class S3ReplicaClientConformanceTests(S3rverFixture s3) : ReplicaClientConformanceTests
{
    protected override IReplicaClient CreateClient() => s3.Client(S3rverFixture.NewPath("conformance"));

    protected override async Task WriteForeignFileAsync(IReplicaClient client, int level, string name)
    {
        using AmazonS3Client raw = s3.RawClient();
        await raw.PutObjectAsync(new PutObjectRequest
        {
            BucketName = S3rver.Bucket,
            Key = ((S3ReplicaClient)client).LevelPrefix(level) + name,
            ContentBody = "not an ltx file",
            UseChunkEncoding = false,
        });
    }

    protected override string Location(IReplicaClient client, int level, Txid min, Txid max)
        => $"s3://bkt/{((S3ReplicaClient)client).Path}/{level:x4}/{LtxFileName.Format(min, max)}";

    protected override bool ListingCarriesHeaderTimestamp => false;

    protected override bool CopiesInStorage => true;
}
