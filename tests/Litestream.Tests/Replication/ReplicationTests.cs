using Litestream.Ltx;
using Litestream.Replication;
using Litestream.Restore;
using Litestream.Storage.File;

namespace Litestream.Tests.Replication;

/// <summary>
/// Db + Replica + FileReplicaClient in-process, with the writes coming from a python3 process (a real
/// second SQLite writer), then a restore through the library compared with the source.
/// </summary>
[Requires(Need.Python)]
public class ReplicationTests
{
    /// <summary>Rows start..start+n-1, one commit each; then "vacuum" deletes a third and VACUUMs, "truncate" checkpoints with TRUNCATE.</summary>
    private static void Write(string db, int start, int n, string mode = "plain") => SqliteWriter.Write(db, new Workload
    {
        Start = start,
        Commits = n,
        Pad = 500,
        Delete = mode == "vacuum" ? "id % 3 = 0" : null,
        Vacuum = mode == "vacuum",
        Checkpoint = mode == "truncate" ? "TRUNCATE" : null,
    });

    private static async Task SyncAndUpload(Db db, Replica replica)
    {
        db.Sync();
        await replica.SyncAsync(default);
    }

    [RequiresFact]
    public async Task Replicate_WritesCheckpointsVacuumAndRestart_RestoresIdenticalContent()
    {
        string dir = TestRepo.TempDir();
        string path = Path.Combine(dir, "app.db");
        Write(path, 0, 50);
        var client = new FileReplicaClient(Path.Combine(dir, "replica"));
        var options = new DbOptions { MinCheckpointPageCount = 20 };

        await using (var db = new Db(path, options))
        {
            db.Open();
            var replica = new Replica(db, client);
            await replica.ReconcileAsync(default);
            await SyncAndUpload(db, replica);
            Assert.Equal(new Txid(1), db.Txid);

            Write(path, 50, 200);
            await SyncAndUpload(db, replica);
            db.CheckpointIfNeeded(); // WAL is past 20 pages: passive checkpoint, WAL restarts
            Write(path, 250, 100, "vacuum");
            await SyncAndUpload(db, replica);
            db.Checkpoint(CheckpointMode.Passive);
            Write(path, 350, 30);
            await SyncAndUpload(db, replica);
        }

        // Restart: a new Db/Replica resumes from the local position without a snapshot.
        long l0Before = Directory.GetFiles(Path.Combine(dir, "replica", "ltx", "0")).Length;
        await using (var db = new Db(path, options))
        {
            db.Open();
            var replica = new Replica(db, client);
            await replica.ReconcileAsync(default);
            Write(path, 380, 40);
            await SyncAndUpload(db, replica);
            Assert.Equal(l0Before + 1, Directory.GetFiles(Path.Combine(dir, "replica", "ltx", "0")).Length);
        }

        string output = Path.Combine(dir, "restored.db");
        await Restorer.RestoreAsync(client, new RestoreOptions { OutputPath = output, IntegrityCheck = IntegrityCheck.Full }, default);
        string expected = SqliteWriter.Dump(path);
        Assert.StartsWith("ok ", expected);
        Assert.Equal(expected, SqliteWriter.Dump(output));
    }

    /// <summary>
    /// One capture stops at MaxSyncWalBytes: the checkpoint's capture under the write barrier goes on until nothing is
    /// left, or the frames past it would be lost to the WAL restart the checkpoint leads to.
    /// </summary>
    [RequiresFact]
    public async Task Checkpoint_MoreUncapturedThanOneCaptureTakes_CapturesAllBeforeTheRestart()
    {
        string dir = TestRepo.TempDir();
        string path = Path.Combine(dir, "app.db");
        Write(path, 0, 10);
        var client = new FileReplicaClient(Path.Combine(dir, "replica"));
        await using (var db = new Db(path, new DbOptions { MaxSyncWalBytes = 64 * 1024 }))
        {
            db.Open();
            var replica = new Replica(db, client);
            await replica.ReconcileAsync(default);
            await SyncAndUpload(db, replica);
            Write(path, 10, 200); // about 800 KB of WAL
            Txid before = db.Txid;
            db.Checkpoint(CheckpointMode.Passive);
            Assert.True(db.Txid.Value - before.Value >= 10, $"the checkpoint captured {db.Txid.Value - before.Value} files of at most 64 KB");
            Write(path, 210, 20); // restarts the WAL
            while (db.Sync())
            {
            }
            await replica.SyncAsync(default);
        }

        string output = Path.Combine(dir, "restored.db");
        await Restorer.RestoreAsync(client, new RestoreOptions { OutputPath = output, IntegrityCheck = IntegrityCheck.Full }, default);
        string expected = SqliteWriter.Dump(path);
        Assert.StartsWith("ok ", expected);
        Assert.Equal(expected, SqliteWriter.Dump(output));
    }

    [RequiresFact]
    public async Task Replicate_ExternalTruncateCheckpointWhileStopped_SnapshotKeepsChainRestorable()
    {
        string dir = TestRepo.TempDir();
        string path = Path.Combine(dir, "app.db");
        Write(path, 0, 20);
        var client = new FileReplicaClient(Path.Combine(dir, "replica"));
        await using (var db = new Db(path))
        {
            db.Open();
            var replica = new Replica(db, client);
            await SyncAndUpload(db, replica);
        }
        Write(path, 20, 20, "truncate"); // another process checkpoints and resets the WAL while we are not running
        Write(path, 40, 5);
        await using (var db = new Db(path))
        {
            db.Open();
            var replica = new Replica(db, client);
            await SyncAndUpload(db, replica);
            Assert.Equal(new Txid(2), db.Txid);
            Assert.Equal(db.Position!.Value.Commit, (uint)(new FileInfo(path).Length / db.PageSize));
        }
        string output = Path.Combine(dir, "restored.db");
        await Restorer.RestoreAsync(client, new RestoreOptions { OutputPath = output }, default);
        Assert.Equal(SqliteWriter.Dump(path), SqliteWriter.Dump(output));
    }

    [RequiresFact]
    public async Task Reconcile_ReplicaAheadOfLocalState_ContinuesTxidSequence()
    {
        string dir = TestRepo.TempDir();
        string path = Path.Combine(dir, "app.db");
        Write(path, 0, 10);
        var client = new FileReplicaClient(Path.Combine(dir, "replica"));
        await using (var db = new Db(path))
        {
            db.Open();
            var replica = new Replica(db, client);
            await SyncAndUpload(db, replica);
            Write(path, 10, 10);
            await SyncAndUpload(db, replica);
        }
        Directory.Delete(Path.Combine(dir, ".app.db-litestream"), recursive: true); // meta dir lost
        Write(path, 20, 10);
        await using (var db = new Db(path))
        {
            db.Open();
            var replica = new Replica(db, client);
            await replica.ReconcileAsync(default);
            await SyncAndUpload(db, replica);
            Assert.Equal(new Txid(3), db.Txid);
        }
        string output = Path.Combine(dir, "restored.db");
        await Restorer.RestoreAsync(client, new RestoreOptions { OutputPath = output }, default);
        Assert.Equal(SqliteWriter.Dump(path), SqliteWriter.Dump(output));
    }
}
