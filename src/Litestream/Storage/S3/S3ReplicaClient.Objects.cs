using System.Runtime.CompilerServices;
using Amazon.S3;
using Amazon.S3.Model;

namespace Litestream.Storage.S3;

/// <summary>The replica's objects by name (<see cref="IReplicaObjectTree"/>): how v0.3 generations are read from S3.</summary>
public partial class S3ReplicaClient : IReplicaObjectTree
{
    private string ObjectKey(string name) => Path.Length == 0 ? name : $"{Path}/{name}";

    /// <inheritdoc />
    async IAsyncEnumerable<ReplicaObject> IReplicaObjectTree.ListObjectsAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        AmazonS3Client s3 = await GetClientAsync(cancellationToken).ConfigureAwait(false);
        string keyPrefix = ObjectKey(prefix);
        int skip = keyPrefix.Length - prefix.Length;
        var request = new ListObjectsV2Request { BucketName = Bucket, Prefix = keyPrefix, MaxKeys = ListPageSize };
        await foreach (ListObjectsV2Response page in ListPagesAsync(s3, request, cancellationToken).ConfigureAwait(false))
        {
            foreach (S3Object item in page.S3Objects ?? [])
            {
                if (item.Key is { } key && key.StartsWith(keyPrefix, StringComparison.Ordinal))
                {
                    yield return new ReplicaObject(key[skip..], item.Size ?? 0, ToUtc(item.LastModified));
                }
            }
        }
    }

    /// <inheritdoc />
    ValueTask<Stream> IReplicaObjectTree.OpenObjectAsync(string name, CancellationToken cancellationToken)
        => OpenKeyAsync(ObjectKey(name), 0, 0, cancellationToken);
}
