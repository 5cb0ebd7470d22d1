namespace Litestream.Storage.Sftp;

/// <summary>The replica's files by name (<see cref="IReplicaObjectTree"/>): how v0.3 generations are read over SFTP.</summary>
public sealed partial class SftpReplicaClient : IReplicaObjectTree
{
    /// <inheritdoc />
    async IAsyncEnumerable<ReplicaObject> IReplicaObjectTree.ListObjectsAsync(string prefix, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        string root = Join(Path, prefix.TrimEnd('/'));
        (List<WalkedFile> files, _) = await WalkAsync(root, cancellationToken).ConfigureAwait(false);
        foreach (WalkedFile file in files)
        {
            if (file.IsRegularFile)
            {
                yield return new ReplicaObject(prefix + file.Path[(root.Length + 1)..], file.Length, new DateTimeOffset(file.LastWriteTimeUtc, TimeSpan.Zero));
            }
        }
    }

    /// <inheritdoc />
    ValueTask<Stream> IReplicaObjectTree.OpenObjectAsync(string name, CancellationToken cancellationToken)
        => OpenPathAsync(Join(Path, name), 0, 0, cancellationToken);
}
