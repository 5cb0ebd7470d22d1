using Litestream.Ltx;
using Litestream.Ltx.Wal;
using Litestream.Replication;
using Litestream.Restore;
using Litestream.Storage.File;

namespace Litestream.Tests.Replication;

/// <summary>
/// Passive checkpoints while a python3 process commits without pause (synchronous=NORMAL): how many L0 files each one
/// writes, that the WAL restart it leads to continues the chain, and that the restore equals the source.
/// </summary>
[Requires(Need.Python)]
public class CheckpointUnderLoadTests
{
    private const int Rounds = 5;

    [RequiresFact]
    public async Task Checkpoint_BusyWriter_CapturesBeforeTheRestartOnlyAndTheRowRidesWithTheNextCommits()
    {
        string dir = TestRepo.TempDir();
        string path = Path.Combine(dir, "app.db");
        string stop = Path.Combine(dir, "stop");
        SqliteWriter.Write(path, 1);
        var client = new FileReplicaClient(Path.Combine(dir, "replica"));
        var logs = new CapturingLogger();
        await using (var db = new Db(path, logger: logs))
        {
            db.Open();
            var replica = new Replica(db, client);
            await replica.ReconcileAsync(default);
            Assert.True(db.Sync()); // the initial snapshot
            using BackgroundProcess writer = SqliteWriter.Start(path, new Workload { StopFile = stop, Start = 1000, Synchronous = "normal", Pad = 200 });
            int busy = 0;
            for (int attempt = 0; busy < Rounds; attempt++)
            {
                Assert.True(attempt < 100, $"the writer committed during only {busy} of {attempt} checkpoints");
                await Wait.UntilAsync(db.Sync, "the writer's next commits");
                LtxHeader pass = Header(db, db.Txid);
                db.Checkpoint(CheckpointMode.Passive);
                Txid checkpointed = db.Txid;
                ulong written = checkpointed.Value - pass.MaxTxid.Value;
                if (written == 0 || Header(db, new Txid(pass.MaxTxid.Value + 1)).WalSalt1 != pass.WalSalt1)
                {
                    continue; // the application did not commit between the pass and the barrier: our row was captured alone, as on an idle database
                }
                busy++;
                // At most the capture after a long pre-barrier copy and the one under the barrier, both of the generation
                // the checkpoint ended; our restart row is not captured as a file of its own.
                Assert.InRange(written, 1UL, 2UL);
                for (ulong txid = pass.MaxTxid.Value + 1; txid <= checkpointed.Value; txid++)
                {
                    LtxHeader file = Header(db, new Txid(txid));
                    Assert.True((pass.WalSalt1, pass.WalSalt2) == (file.WalSalt1, file.WalSalt2),
                        $"txid {txid} of {pass.MaxTxid.Value + 1}-{checkpointed.Value}: salt {file.WalSalt1} offset {file.WalOffset}, pass {pass.WalSalt1}; {string.Join(" | ", logs.Lines.TakeLast(12))}");
                }
                // The next capture starts the restarted WAL at its first frame (our row, then the application's commits), as a delta.
                await Wait.UntilAsync(db.Sync, "the commits after the checkpoint");
                LtxHeader next = Header(db, new Txid(checkpointed.Value + 1));
                Assert.True(unchecked(pass.WalSalt1 + 1) == next.WalSalt1 && next.WalOffset == WalHeader.Size,
                    $"not restarted once: salt {pass.WalSalt1} -> {next.WalSalt1}, offset {next.WalOffset}; {string.Join(" | ", logs.Lines.TakeLast(12))}");
                await replica.SyncAsync(default);
            }
            File.WriteAllText(stop, "");
            _ = writer.WaitForSuccess(TimeSpan.FromMinutes(2));
            db.Sync();
            await replica.SyncAsync(default);
        }

        Assert.Single(logs.Lines, l => l.StartsWith("Information: snapshot ", StringComparison.Ordinal)); // the initial one only
        string output = Path.Combine(dir, "restored.db");
        await Restorer.RestoreAsync(client, new RestoreOptions { OutputPath = output, IntegrityCheck = IntegrityCheck.Full }, default);
        string expected = SqliteWriter.Dump(path);
        Assert.StartsWith("ok ", expected);
        Assert.Equal(expected, SqliteWriter.Dump(output));
    }

    private static LtxHeader Header(Db db, Txid txid) => LtxHeader.Read(File.ReadAllBytes(db.L0FilePath(txid)));
}
