using Amazon.S3;
using Amazon.S3.Model;
using Litestream.Ltx;
using Litestream.Storage;
using Litestream.Storage.S3;
using Litestream.Tests.Fixtures;

namespace Litestream.Tests.Storage;

/// <summary>The replica client contract on a gs replica with HMAC keys (GCS's XML API: the S3 client with GCS's rules), against s3rver through the endpoint override.</summary>
[Collection("s3rver")]
[Requires(Need.S3rver)]
public sealed class GsHmacReplicaClientConformanceTests(S3rverFixture s3) : ReplicaClientConformanceTests
{
    protected override IReplicaClient CreateClient() => ReplicaClientFactory.Create(new ReplicaSettings
    {
        Url = $"gs://{S3rver.Bucket}/{S3rverFixture.NewPath("gs-hmac")}?endpoint={s3.Server.Endpoint}",
        Options = new Dictionary<string, string> { ["access-key-id"] = S3rver.Credential, ["secret-access-key"] = S3rver.Credential },
    });

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
        => $"gs://bkt/{((S3ReplicaClient)client).Path}/ltx/{level}/{LtxFileName.Format(min, max)}";

    protected override bool ListingCarriesHeaderTimestamp => false;

    protected override bool CopiesInStorage => true;
}
