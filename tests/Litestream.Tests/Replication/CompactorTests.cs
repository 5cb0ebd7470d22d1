using Litestream.Ltx;
using Litestream.Replication;
using Litestream.Restore;
using Litestream.Storage;
using Litestream.Storage.File;
using Litestream.Tests.Fixtures;
using Microsoft.Extensions.Logging;

namespace Litestream.Tests.Replication;

/// <summary>
/// Compaction levels, level-9 snapshots and retention on a real replica; every TXID restores to the
/// exact state the writer recorded for it, before and after retention ran.
/// </summary>
[Requires(Need.Python)]
public class CompactorTests
{
    /// <summary>Batch <paramref name="batch"/>: 40 one-row commits; every fourth batch then deletes every fifth row.</summary>
    private static void Write(string db, int batch)
        => SqliteWriter.Write(db, new Workload { Commits = 40, Start = 40 * batch, Pad = 900, Delete = batch % 4 == 3 ? "id % 5 = 0" : null });

    [RequiresFact]
    public async Task Compaction_SnapshotsAndRetention_EveryTxidRestoresExactly()
    {
        string dir = TestRepo.TempDir();
        string path = Path.Combine(dir, "app.db");
        var client = new FileReplicaClient(Path.Combine(dir, "replica"));
        var states = new Dictionary<ulong, string>();
        var options = new CompactionOptions { SnapshotRetention = TimeSpan.FromHours(1), L0Retention = TimeSpan.FromMinutes(1) };
        Write(path, 0);
        await using (var db = new Db(path))
        {
            db.Open();
            var replica = new Replica(db, client);
            var compactor = new Compactor(replica, options);
            for (int batch = 1; batch <= 12; batch++)
            {
                db.Sync();
                await replica.SyncAsync(default);
                states[db.Txid.Value] = SqliteWriter.Dump(path);
                if (batch % 3 == 0)
                {
                    Assert.NotNull(await compactor.CompactAsync(1, default));
                }
                if (batch % 6 == 0)
                {
                    Assert.NotNull(await compactor.CompactAsync(2, default));
                }
                if (batch is 5 or 10)
                {
                    LtxFileInfo snapshot = (await compactor.SnapshotAsync(default))!;
                    Assert.Equal((new Txid(1), db.Txid), (snapshot.MinTxid, snapshot.MaxTxid));
                }
                Write(path, batch);
            }
            db.Sync();
            await replica.SyncAsync(default);
            states[db.Txid.Value] = SqliteWriter.Dump(path);
            Assert.Null(await compactor.CompactAsync(2, default)); // nothing new in L1 since the last L2
        }

        async Task AssertRestores(IEnumerable<ulong> txids)
        {
            foreach (ulong txid in txids)
            {
                string output = Path.Combine(dir, $"r-{txid}-{Guid.NewGuid():N}.db");
                await Restorer.RestoreAsync(client, new RestoreOptions { OutputPath = output, Txid = new Txid(txid) }, default);
                Assert.Equal(states[txid], SqliteWriter.Dump(output));
            }
        }

        Assert.Equal(13, states.Count);
        await AssertRestores(states.Keys);
        IReadOnlyList<LtxFileInfo> latestPlan = await RestorePlanner.PlanAsync(client, Txid.Zero, null, default);
        Assert.Equal(LtxConstants.SnapshotLevel, latestPlan[0].Level); // starts from the newest snapshot, not from L0 1

        // Retention an hour later: the first snapshot and everything it makes unnecessary go.
        var later = new Compactor(new Replica(new Db(path), client), options);
        int deleted = await later.EnforceSnapshotRetentionAsync(DateTimeOffset.UtcNow.AddHours(2), default);
        Assert.True(deleted > 1, $"deleted {deleted}");
        int l0Deleted = await later.EnforceL0RetentionAsync(DateTimeOffset.UtcNow.AddHours(2), default);
        var snapshots = new List<LtxFileInfo>();
        await foreach (LtxFileInfo s in client.ListLtxFilesAsync(LtxConstants.SnapshotLevel, Txid.Zero, false, default))
        {
            snapshots.Add(s);
        }
        LtxFileInfo kept = Assert.Single(snapshots);
        // After retention a TXID is restorable where some remaining file ends (compaction merged the rest).
        var boundaries = new HashSet<ulong>();
        for (int level = 0; level <= LtxConstants.SnapshotLevel; level++)
        {
            await foreach (LtxFileInfo f in client.ListLtxFilesAsync(level, Txid.Zero, false, default))
            {
                boundaries.Add(f.MaxTxid.Value);
            }
        }
        Assert.Contains(kept.MaxTxid.Value, boundaries);
        await AssertRestores(boundaries.Where(t => t >= kept.MaxTxid.Value));
        string latest = Path.Combine(dir, "latest.db");
        await Restorer.RestoreAsync(client, new RestoreOptions { OutputPath = latest }, default);
        Assert.Equal(states[states.Keys.Max()], SqliteWriter.Dump(latest));
        Assert.True(l0Deleted >= 0);
    }

    [RequiresFact]
    public async Task Compact_OneFile_IsLinkedToTheNextLevelNotRewritten()
    {
        // A compaction of one file is that file (upstream issue 1407: the same bytes uploaded at every level): the file
        // replica links it (one inode under three names), S3 copies it on the server.
        string dir = TestRepo.TempDir();
        string path = Path.Combine(dir, "app.db");
        var client = new FileReplicaClient(Path.Combine(dir, "replica"));
        Write(path, 0);
        await using var db = new Db(path);
        db.Open();
        var replica = new Replica(db, client);
        db.Sync();
        await replica.SyncAsync(default);
        var compactor = new Compactor(replica, new CompactionOptions { VerifyCompaction = true });
        LtxFileInfo l1 = (await compactor.CompactAsync(1, default))!;
        LtxFileInfo l2 = (await compactor.CompactAsync(2, default))!;
        Assert.Equal((1, 2), (l1.Level, l2.Level));
        string Inode(int level) => Processes.RunOk("stat", ["-c", "%i", client.LtxFilePath(level, new Txid(1), new Txid(1))]);
        Assert.Equal(Inode(0), Inode(1));
        Assert.Equal(Inode(0), Inode(2));
        await RestoreAndCompare(client, dir, SqliteWriter.Dump(path));
    }

    [RequiresFact]
    public async Task Compact_FirstFileLargerThanTheRest_IsLinkedAloneAndTheRestMerged()
    {
        // Each level's first pass after a snapshot: the whole database and a few small commits. Merged, the whole
        // database would be uploaded again at every level (bench/run.py --only uploads: 35 MB for a 32 MB database at
        // the first L1); the snapshot moves up inside the storage and only the commits after it are merged.
        string dir = TestRepo.TempDir();
        string path = Path.Combine(dir, "app.db");
        var client = new FileReplicaClient(Path.Combine(dir, "replica"));
        SqliteWriter.Write(path, new Workload { Commits = 1, Batch = "400", Pad = 900 });
        await using var db = new Db(path);
        db.Open();
        var replica = new Replica(db, client);
        db.Sync();
        for (int i = 0; i < 2; i++)
        {
            await replica.SyncAsync(default);
            Write(path, 1 + i);
            db.Sync();
        }
        await replica.SyncAsync(default);
        List<LtxFileInfo> l0 = await ListAsync(client, 0);
        Assert.Equal(3, l0.Count);
        Assert.True(l0[0].Size > l0[1].Size + l0[2].Size, $"snapshot {l0[0].Size} bytes, commits {l0[1].Size} + {l0[2].Size}");
        var compactor = new Compactor(replica, new CompactionOptions { VerifyCompaction = true });
        LtxFileInfo newest = (await compactor.CompactAsync(1, default))!;
        Assert.Equal((new Txid(2), new Txid(3)), (newest.MinTxid, newest.MaxTxid));
        Assert.Equal([(1UL, 1UL), (2UL, 3UL)], (await ListAsync(client, 1)).Select(f => (f.MinTxid.Value, f.MaxTxid.Value)));
        string Inode(int level, ulong min, ulong max) => Processes.RunOk("stat", ["-c", "%i", client.LtxFilePath(level, new Txid(min), new Txid(max))]);
        Assert.Equal(Inode(0, 1, 1), Inode(1, 1, 1));
        Assert.NotEqual(Inode(0, 2, 2), Inode(1, 2, 3)); // two commits merged: a new file
        await RestoreAndCompare(client, dir, SqliteWriter.Dump(path));

        // The next level: the snapshot linked again, the one merged file after it linked too.
        Assert.Equal(new Txid(3), (await compactor.CompactAsync(2, default))!.MaxTxid);
        Assert.Equal([(1UL, 1UL), (2UL, 3UL)], (await ListAsync(client, 2)).Select(f => (f.MinTxid.Value, f.MaxTxid.Value)));
        Assert.Equal(Inode(0, 1, 1), Inode(2, 1, 1));
        Assert.Equal(Inode(1, 2, 3), Inode(2, 2, 3));
        await RestoreAndCompare(client, dir, SqliteWriter.Dump(path));
    }

    [RequiresFact]
    public async Task VerifyCompaction_DamagedOutput_IsDeletedAndTheNextCompactionRewritesIt()
    {
        string dir = TestRepo.TempDir();
        string path = Path.Combine(dir, "app.db");
        var client = new DamagingClient(new FileReplicaClient(Path.Combine(dir, "replica")));
        Write(path, 0);
        await using var db = new Db(path);
        db.Open();
        var replica = new Replica(db, client);
        for (int batch = 1; batch <= 3; batch++)
        {
            db.Sync();
            await replica.SyncAsync(default);
            Write(path, batch);
        }
        db.Sync();
        await replica.SyncAsync(default);
        string expected = SqliteWriter.Dump(path);

        client.Damage = true;
        var verifying = new Compactor(replica, new CompactionOptions { VerifyCompaction = true });
        InvalidDataException e = await Assert.ThrowsAnyAsync<InvalidDataException>(async () => await verifying.CompactAsync(1, default));
        Assert.StartsWith("compacted file L1 0000000000000001-0000000000000004 failed verification and was deleted: ", e.Message);
        Assert.Empty(await ListAsync(client, 1));

        client.Damage = false;
        LtxFileInfo rewritten = (await verifying.CompactAsync(1, default))!;
        Assert.Equal((new Txid(1), new Txid(4)), (rewritten.MinTxid, rewritten.MaxTxid));
        await RestoreAndCompare(client, dir, expected);

        // Without verify-compaction the damaged file stays on the replica for restores to trip over.
        string dir2 = TestRepo.TempDir();
        var unverified = new DamagingClient(new FileReplicaClient(Path.Combine(dir2, "replica"))) { Damage = true };
        await using var db2 = new Db(Path.Combine(dir2, "app.db"));
        File.Copy(path, db2.Path);
        db2.Open();
        var replica2 = new Replica(db2, unverified);
        db2.Sync();
        await replica2.SyncAsync(default);
        Assert.NotNull(await new Compactor(replica2).CompactAsync(1, default));
        Assert.Single(await ListAsync(unverified, 1));
    }

    [RequiresFact]
    public async Task VerifyCompaction_OverlapOrGapInTheLevel_IsReported()
    {
        string dir = TestRepo.TempDir();
        string path = Path.Combine(dir, "app.db");
        var client = new FileReplicaClient(Path.Combine(dir, "replica"));
        var logger = new CapturingLogger();
        Write(path, 0);
        await using var db = new Db(path);
        db.Open();
        var replica = new Replica(db, client);
        var compactor = new Compactor(replica, new CompactionOptions { VerifyCompaction = true }, logger);
        async Task Batch(int n)
        {
            Write(path, n);
            db.Sync();
            await replica.SyncAsync(default);
        }
        db.Sync();
        await replica.SyncAsync(default);
        await Batch(1);
        await Batch(2);
        Assert.NotNull(await compactor.CompactAsync(1, default)); // L1 1-3
        Assert.Empty(logger.LinesAtLeast(LogLevel.Warning));

        // A stray L1 file 2-5 (a second writer, a botched manual copy): valid LTX, but it overlaps 1-3.
        await Batch(3);
        await Batch(4);
        var inputs = new List<Stream>();
        for (ulong txid = 2; txid <= 5; txid++)
        {
            inputs.Add(await client.OpenLtxFileAsync(0, new Txid(txid), new Txid(txid), 0, 0, default));
        }
        var stray = new MemoryStream();
        LtxCompactor.Compact(stray, inputs);
        inputs.ForEach(i => i.Dispose());
        stray.Position = 0;
        await client.WriteLtxFileAsync(1, new Txid(2), new Txid(5), stray, default);
        replica.InvalidateRemotePosition(); // the replicator sees another writer's files after a restart or an error (its listing is cached)

        await Batch(5);
        LtxFileInfo next = (await compactor.CompactAsync(1, default))!;
        Assert.Equal((new Txid(6), new Txid(6)), (next.MinTxid, next.MaxTxid));
        Assert.Equal([$"Warning: {path}: post-compaction verification failed: txid overlap detected at level 1: prev.MaxTXID=0000000000000003, next.MinTXID=0000000000000002"], logger.LinesAtLeast(LogLevel.Warning));

        // Removing the stray file leaves a gap where it was the only copy of 4-5.
        await client.DeleteLtxFilesAsync((await ListAsync(client, 1)).Where(f => f.MinTxid == new Txid(2)).ToList(), default);
        InvalidDataException gap = await Assert.ThrowsAsync<InvalidDataException>(async () => await compactor.VerifyLevelConsistencyAsync(1, default));
        Assert.Equal("txid gap detected at level 1: prev.MaxTXID=0000000000000003, next.MinTXID=0000000000000006 (expected 0000000000000004)", gap.Message);
        await compactor.VerifyLevelConsistencyAsync(0, default);
    }

    private static async Task<List<LtxFileInfo>> ListAsync(IReplicaClient client, int level)
    {
        var files = new List<LtxFileInfo>();
        await foreach (LtxFileInfo f in client.ListLtxFilesAsync(level, Txid.Zero, false, default))
        {
            files.Add(f);
        }
        return files;
    }

    private static async Task RestoreAndCompare(IReplicaClient client, string dir, string expected)
    {
        string output = Path.Combine(dir, $"restored-{Guid.NewGuid():N}.db");
        await Restorer.RestoreAsync(client, new RestoreOptions { OutputPath = output }, default);
        Assert.Equal(expected, SqliteWriter.Dump(output));
    }

    /// <summary>The file backend, with storage that flips one byte in the middle of compacted files while <see cref="Damage"/> is set.</summary>
    private sealed class DamagingClient(FileReplicaClient inner) : DelegatingReplicaClient(inner)
    {
        public bool Damage { get; set; }

        // No copy inside the storage: every compacted file passes through WriteLtxFileAsync, where the damage is.
        public override ValueTask<LtxFileInfo?> CopyLtxFileAsync(LtxFileInfo source, int level, CancellationToken cancellationToken) => ValueTask.FromResult<LtxFileInfo?>(null);

        public override async ValueTask<LtxFileInfo> WriteLtxFileAsync(int level, Txid minTxid, Txid maxTxid, Stream data, CancellationToken cancellationToken)
        {
            if (!Damage || level == 0)
            {
                return await Inner.WriteLtxFileAsync(level, minTxid, maxTxid, data, cancellationToken);
            }
            var copy = new MemoryStream();
            await data.CopyToAsync(copy, cancellationToken);
            copy.GetBuffer()[copy.Length / 2] ^= 0x5A;
            copy.Position = 0;
            return await Inner.WriteLtxFileAsync(level, minTxid, maxTxid, copy, cancellationToken);
        }
    }
}
