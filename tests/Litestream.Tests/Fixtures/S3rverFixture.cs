using Amazon.Runtime;
using Amazon.S3;
using Litestream.Storage.S3;

namespace Litestream.Tests.Fixtures;

/// <summary>One s3rver for every test of the "s3rver" collection, started by the first test that needs it.</summary>
public sealed class S3rverFixture : IDisposable
{
    private readonly Lazy<S3rver> _server = new(() => new S3rver());

    public S3rver Server => _server.Value;

    /// <summary>Settings for a replica at <paramref name="path"/> in s3rver's bucket, reached through <paramref name="endpoint"/> (default: s3rver itself).</summary>
    public S3ReplicaSettings Settings(string path, string? endpoint = null) => new()
    {
        Bucket = S3rver.Bucket,
        Path = path,
        Endpoint = endpoint ?? Server.Endpoint,
        ForcePathStyle = true,
        Region = "us-east-1",
        AccessKeyId = S3rver.Credential,
        SecretAccessKey = S3rver.Credential,
    };

    public S3ReplicaClient Client(string path) => new(Settings(path));

    /// <summary>A plain SDK client, to look at what the replica client stored.</summary>
    public AmazonS3Client RawClient() => new(new BasicAWSCredentials(S3rver.Credential, S3rver.Credential), new AmazonS3Config
    {
        ServiceURL = Server.Endpoint,
        ForcePathStyle = true,
        AuthenticationRegion = "us-east-1",
        RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
        ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
    });

    /// <summary>A fresh key prefix, so tests sharing the server never see each other's objects.</summary>
    public static string NewPath(string name) => $"{name}-{Guid.NewGuid().ToString("N")[..8]}";

    public void Dispose()
    {
        if (_server.IsValueCreated)
        {
            _server.Value.Dispose();
        }
    }
}

[CollectionDefinition("s3rver")]
public sealed class S3rverCollection : ICollectionFixture<S3rverFixture>;
