using System.Runtime.CompilerServices;

namespace Litestream.Storage.Abs;

/// <summary>The replica's blobs by name (<see cref="IReplicaObjectTree"/>): how v0.3 generations are read from Azure.</summary>
public sealed partial class AbsReplicaClient : IReplicaObjectTree
{
    private string BlobName(string name) => Path.Length == 0 ? name : $"{Path}/{name}";

    /// <inheritdoc />
    async IAsyncEnumerable<ReplicaObject> IReplicaObjectTree.ListObjectsAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        string namePrefix = BlobName(prefix);
        int skip = namePrefix.Length - prefix.Length;
        await foreach (AbsBlob item in ListBlobsAsync(namePrefix, metadata: false, cancellationToken).ConfigureAwait(false))
        {
            yield return new ReplicaObject(item.Name[skip..], item.Size, item.LastModified ?? DateTimeOffset.UnixEpoch);
        }
    }

    /// <inheritdoc />
    ValueTask<Stream> IReplicaObjectTree.OpenObjectAsync(string name, CancellationToken cancellationToken)
        => OpenBlobAsync(BlobName(name), 0, 0, cancellationToken);
}
