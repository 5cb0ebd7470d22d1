namespace Litestream.Storage;

/// <summary>One object of a replica, named relative to the replica's path (<c>generations/…/wal/…</c>).</summary>
/// <param name="Name">Relative name with '/' separators.</param>
/// <param name="Size">Bytes.</param>
/// <param name="Modified">The backend's modification time (v0.3 took its CreatedAt from it).</param>
internal sealed record ReplicaObject(string Name, long Size, DateTimeOffset Modified);

/// <summary>
/// A backend's objects as plain names under the replica's path, beside the LTX layout: what reading a layout other
/// than LTX needs (Litestream v0.3's generations, <see cref="LegacyReplicaReader"/>). A capability: backends that
/// v0.3 could write (file, s3, abs, sftp) offer it.
/// </summary>
internal interface IReplicaObjectTree
{
    /// <summary>Every object under <paramref name="prefix"/> (a relative folder ending in '/'), at any depth; none when it does not exist.</summary>
    IAsyncEnumerable<ReplicaObject> ListObjectsAsync(string prefix, CancellationToken cancellationToken);

    /// <summary>Opens one object by its relative name.</summary>
    /// <exception cref="ReplicaFileNotFoundException">It does not exist.</exception>
    ValueTask<Stream> OpenObjectAsync(string name, CancellationToken cancellationToken);
}
