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
/// so one replica, or all of them lagging together, keeps every file it needs as before. Capture and checkpoints
/// never wait for a replica: the backlog is only local disk.
/// </summary>
internal sealed class LocalBacklog(Db db)
{
    private readonly Lock _lock = new();
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
    /// position), after <paramref name="uploader"/> uploaded through <paramref name="uploadedThrough"/>; releases a
    /// lagging replica past the bound first.
    /// </summary>
    public void Prune(Replica uploader, Txid uploadedThrough, ILogger logger)
    {
        Replica[] members = [.. Members.Where(r => r != uploader)];
        List<(Txid Txid, long Size)> files = LocalFiles();
        Txid floor = uploadedThrough;
        if (members.Length > 0)
        {
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
        }
        Txid newestLocal = db.Txid;
        foreach ((Txid txid, _) in files)
        {
            if (txid <= floor && txid < newestLocal)
            {
                FileUtil.TryDelete(db.L0FilePath(txid));
            }
        }
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
