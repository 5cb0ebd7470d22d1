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
    // The listing under way per level, which callers missing at the same time join.
    private readonly TaskCompletionSource<List<LtxFileInfo>>?[] _pending = new TaskCompletionSource<List<LtxFileInfo>>?[LtxConstants.SnapshotLevel + 1];

    /// <summary>
    /// The files of <paramref name="level"/> ordered by (MinTxid, MaxTxid); lists the level only when it is not known.
    /// Callers that miss at once share one listing (the L0 retention, compaction and snapshot ticks fall on the same
    /// wall-clock instants, and after a start each would otherwise list the same level). A joiner gets the listing's
    /// failure too, a cancellation included: the callers are one replica's loops, which stop on one token.
    /// </summary>
    public async ValueTask<List<LtxFileInfo>> GetAsync(int level, CancellationToken cancellationToken)
    {
        TaskCompletionSource<List<LtxFileInfo>> listing;
        long version;
        lock (_lock)
        {
            if (_levels[level] is { } known)
            {
                return [.. known];
            }
            if (_pending[level] is { } joined)
            {
                listing = joined;
                version = -1;
            }
            else
            {
                _pending[level] = listing = new(TaskCreationOptions.RunContinuationsAsynchronously);
                version = _versions[level];
            }
        }
        if (version < 0)
        {
            return [.. await listing.Task.WaitAsync(cancellationToken).ConfigureAwait(false)];
        }
        var files = new List<LtxFileInfo>();
        try
        {
            await foreach (LtxFileInfo info in client.ListLtxFilesAsync(level, Txid.Zero, false, cancellationToken).ConfigureAwait(false))
            {
                files.Add(info);
            }
        }
        catch (Exception e)
        {
            lock (_lock)
            {
                Detach(level, listing);
            }
            listing.SetException(e);
            _ = listing.Task.Exception; // observed: the joiners, if any, rethrow it themselves
            throw;
        }
        lock (_lock)
        {
            if (_versions[level] == version)
            {
                _levels[level] = [.. files];
            }
            Detach(level, listing);
        }
        listing.SetResult(files);
        return [.. files];
    }

    /// <summary>A listing that ended or started before a change is not joined any more (caller holds the lock).</summary>
    private void Detach(int level, TaskCompletionSource<List<LtxFileInfo>>? listing = null)
    {
        if (listing is null || _pending[level] == listing)
        {
            _pending[level] = null;
        }
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
            Detach(file.Level);
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
                Detach(file.Level);
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
                Detach(level);
            }
        }
    }
}
