using Litestream.Ltx;
using Litestream.Storage;

namespace Litestream.Replication;

/// <summary>
/// The replicator's picture of a replica's files, level by level (upstream keeps the newest file per level
/// in <c>DB.maxLTXFileInfos</c> for the same reason): each level is listed once, then kept current by the
/// replicator's own writes and deletes, so an idle database sends no LIST at all — on object storage every
/// LIST is a billed request. <see cref="Invalidate"/> (after any storage error) makes the next use list again.
/// Safe for concurrent use by the upload loop and the compaction loops.
/// </summary>
internal sealed class ReplicaListing(IReplicaClient client)
{
    private readonly Lock _lock = new();
    private readonly List<LtxFileInfo>?[] _levels = new List<LtxFileInfo>?[LtxConstants.SnapshotLevel + 1];
    // Bumped by every change to a level; a listing that raced with a change is used once but not kept.
    private readonly long[] _versions = new long[LtxConstants.SnapshotLevel + 1];

    /// <summary>The files of <paramref name="level"/> ordered by (MinTxid, MaxTxid); lists the level only when it is not known.</summary>
    public async ValueTask<List<LtxFileInfo>> GetAsync(int level, CancellationToken cancellationToken)
    {
        long version;
        lock (_lock)
        {
            if (_levels[level] is { } known)
            {
                return [.. known];
            }
            version = _versions[level];
        }
        var files = new List<LtxFileInfo>();
        await foreach (LtxFileInfo info in client.ListLtxFilesAsync(level, Txid.Zero, false, cancellationToken).ConfigureAwait(false))
        {
            files.Add(info);
        }
        lock (_lock)
        {
            if (_versions[level] == version)
            {
                _levels[level] = [.. files];
            }
        }
        return files;
    }

    /// <summary>The file with the highest MaxTxid in <paramref name="level"/>, or null when the level is empty.</summary>
    public async ValueTask<LtxFileInfo?> NewestAsync(int level, CancellationToken cancellationToken)
    {
        List<LtxFileInfo> files = await GetAsync(level, cancellationToken).ConfigureAwait(false);
        return files.Count == 0 ? null : files.MaxBy(f => f.MaxTxid.Value);
    }

    /// <summary>Records a file this process wrote (replacing one of the same name).</summary>
    public void Added(LtxFileInfo file)
    {
        lock (_lock)
        {
            _versions[file.Level]++;
            if (_levels[file.Level] is not { } files)
            {
                return;
            }
            int index = files.FindIndex(f => f.MinTxid == file.MinTxid && f.MaxTxid == file.MaxTxid);
            if (index >= 0)
            {
                files[index] = file;
                return;
            }
            index = files.FindIndex(f => f.MinTxid > file.MinTxid || (f.MinTxid == file.MinTxid && f.MaxTxid > file.MaxTxid));
            files.Insert(index < 0 ? files.Count : index, file);
        }
    }

    /// <summary>Records files this process deleted.</summary>
    public void Removed(IReadOnlyList<LtxFileInfo> deleted)
    {
        lock (_lock)
        {
            foreach (LtxFileInfo file in deleted)
            {
                _versions[file.Level]++;
                _levels[file.Level]?.RemoveAll(f => f.MinTxid == file.MinTxid && f.MaxTxid == file.MaxTxid);
            }
        }
    }

    /// <summary>Forgets everything: every level is listed again on its next use.</summary>
    public void Invalidate()
    {
        lock (_lock)
        {
            for (int level = 0; level < _levels.Length; level++)
            {
                _levels[level] = null;
                _versions[level]++;
            }
        }
    }
}
