using Litestream.Internal;
using Litestream.Logging;
using Litestream.Ltx;
using Microsoft.Extensions.Logging;

namespace Litestream.Replication;

/// <summary>
/// The replicas of one database and how far back its local L0 files are kept for them (several replicas per
/// database, issue 26). A local L0 file goes once every replica that keeps up has it; a replica that lags so far
/// that the files only it still needs exceed <see cref="DbOptions.ReplicaBacklogLimit"/> is released: it no longer
/// holds files back, and when it next uploads it finds its next file gone and is resynced with a level-9 snapshot
/// of the database (<see cref="Replica.IsBehind"/> says so meanwhile). The replica furthest ahead is never released,
/// so one replica, or all of them lagging together, keeps every file it needs as before. Files every replica has stay
/// on until each replica's level-1 compaction merged them, which reads them here instead of downloading them again
/// (upstream v0.5 keeps them until L0 retention), within <see cref="DbOptions.L0CompactionCacheLimit"/>. Capture and
/// checkpoints never wait for a replica: the backlog is only local disk.
/// </summary>
internal sealed class LocalBacklog(Db db)
{
    private readonly Lock _lock = new();
    private readonly Lock _pruning = new(); // an upload's and a level-1 pass's prune, one at a time
    private Replica[] _members = [];

    /// <summary>The replicas, in the order they joined (the first is the database's primary in a <see cref="Store"/>).</summary>
    public IReadOnlyList<Replica> Members
    {
        get
        {
            lock (_lock)
            {
                return _members;
            }
        }
    }

    /// <summary>Adds <paramref name="replica"/> (once).</summary>
    public void Join(Replica replica)
    {
        lock (_lock)
        {
            if (!_members.Contains(replica))
            {
                _members = [.. _members, replica];
            }
        }
    }

    /// <summary>Removes <paramref name="replica"/>.</summary>
    public void Leave(Replica replica)
    {
        lock (_lock)
        {
            _members = [.. _members.Where(r => r != replica)];
        }
    }

    /// <summary>
    /// Deletes the local L0 files every replica still counted has (always keeping the newest: it anchors the
    /// position), after <paramref name="uploader"/> uploaded through <paramref name="uploadedThrough"/> (or its
    /// level-1 pass merged); releases a lagging replica past the bound first. Files every replica has but a level-1 pass
    /// reading local files (<see cref="Replica.MergesLocalL0"/>) has not merged yet stay for it, newest first, up to
    /// <see cref="DbOptions.L0CompactionCacheLimit"/>: past it the oldest go and that pass downloads them.
    /// </summary>
    public void Prune(Replica uploader, Txid uploadedThrough, ILogger logger)
    {
        lock (_pruning)
        {
            Replica[] members = [.. Members.Where(r => r != uploader)];
            List<(Txid Txid, long Size)> files = LocalFiles();
            Txid floor = UploadFloor(members, uploadedThrough, files, logger);
            Txid merged = members.Append(uploader).Where(r => r.MergesLocalL0 && !r.IsBehind).Select(r => r.MergedL0Through).DefaultIfEmpty(floor).Min();
            Txid newestLocal = db.Txid;
            long cached = 0;
            bool full = false;
            foreach ((Txid txid, long size) in files.OrderByDescending(f => f.Txid))
            {
                if (txid > floor || txid >= newestLocal)
                {
                    continue;
                }
                if (txid > merged && !full && cached + size <= db.Options.L0CompactionCacheLimit)
                {
                    cached += size;
                    continue;
                }
                full |= txid > merged; // older files go too: what stays is one contiguous run
                FileUtil.TryDelete(db.L0FilePath(txid));
            }
        }
    }

    /// <summary>Prunes after <paramref name="replica"/>'s level-1 pass moved <see cref="Replica.MergedL0Through"/>.</summary>
    public void Merged(Replica replica, ILogger logger) => Prune(replica, Position(replica), logger);

    /// <summary>The newest TXID every replica still counted has (the others released past the bound here).</summary>
    private Txid UploadFloor(Replica[] members, Txid uploadedThrough, List<(Txid Txid, long Size)> files, ILogger logger)
    {
        Txid floor = uploadedThrough;
        if (members.Length == 0)
        {
            return floor;
        }
        Txid leader = members.Select(Position).Append(uploadedThrough).Max();
        foreach (Replica member in members)
        {
            Txid position = Position(member);
            if (member.IsBehind || position >= leader)
            {
                continue;
            }
            long needed = files.Where(f => f.Txid > position && f.Txid <= leader).Sum(f => f.Size);
            if (needed > db.Options.ReplicaBacklogLimit)
            {
                member.IsBehind = true;
                Log.ReplicaBacklogExceeded(logger, member.Label, db.Path, needed, db.Options.ReplicaBacklogLimit);
                continue;
            }
            floor = position < floor ? position : floor;
        }
        return floor;
    }

    /// <summary>True when the database has more than one replica: a replica missing a local file resyncs instead of moving the database's position.</summary>
    public bool Shared => Members.Count > 1;

    // Unknown (never reached): it needs everything.
    private static Txid Position(Replica replica) => replica.RemoteTxid ?? Txid.Zero;

    private List<(Txid Txid, long Size)> LocalFiles()
    {
        var files = new List<(Txid, long)>();
        foreach (FileInfo file in new DirectoryInfo(db.L0Directory).EnumerateFiles("*.ltx"))
        {
            if (LtxFileName.TryParse(file.Name, out _, out Txid max))
            {
                try
                {
                    files.Add((max, file.Length));
                }
                catch (FileNotFoundException)
                {
                    // pruned meanwhile by another replica's upload
                }
            }
        }
        return files;
    }
}
