namespace Litestream.Aot.Tests.Cli;

/// <summary>
/// Storage faults while replicating: the replica emptied behind the replicator's back, its newest file torn
/// by a crash, or the replica path becomes unusable mid-run (a file where the
/// directory was — root ignores permission bits, so this is how a broken mount looks here). The
/// exe must say so in its log, keep the application's writes unharmed, retry with backoff, and after
/// the fault clears resume and lose nothing.
/// </summary>
[Requires(Need.Python)]
public class FaultTests
{
    [RequiresFact(Need.Exe)]
    public void ReplicaPathBrokenMidRun_ErrorLoggedWritesContinueAndResumeLosesNothing()
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        string replica = Path.Combine(dir, "replica");
        SqliteWriter.Write(db, 50);
        using BackgroundProcess replicate = Exe.Start("replicate", db, $"file://{replica}");
        Wait.Until(() => FileReplica.L0Files(replica).Length > 0, "the first upload", replicate);
        Directory.Move(replica, replica + ".away");
        File.WriteAllText(replica, "not a directory");
        SqliteWriter.Write(db, 300); // the application keeps writing while the replica is broken
        Wait.Until(() => replicate.Output.Contains("level=ERROR", StringComparison.Ordinal), "an upload to fail", replicate);
        Assert.Contains("replica file://" + replica, replicate.Output);
        File.Delete(replica);
        Directory.Move(replica + ".away", replica);
        SqliteWriter.Write(db, 20);
        // The upload loop retries with a doubling backoff from 1 s.
        Wait.Until(() => replicate.Output.Contains("recovered after", StringComparison.Ordinal), "the uploads to recover", replicate);
        Assert.Equal(0, replicate.Stop());
        string output = Path.Combine(dir, "out.db");
        ProcessResult r = Exe.Run("restore", "-o", output, $"file://{replica}");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(SqliteWriter.Dump(db), SqliteWriter.Dump(output));
    }

    [RequiresFact(Need.Exe)]
    public void TornNewestReplicaFile_UploadedAgainOnRestart_RestoreHasEverything()
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        string replica = Path.Combine(dir, "replica");
        SqliteWriter.Write(db, 50);
        using (BackgroundProcess first = Exe.Start("replicate", db, $"file://{replica}"))
        {
            Wait.Until(() => FileReplica.L0Files(replica).Length > 0, "the first upload", first);
            SqliteWriter.Write(db, 5);
            Assert.Equal(0, first.Stop()); // its final sync uploads the 5 commits
        }
        // A crash on a mount without atomic renames leaves the newest file cut short.
        string newest = Directory.GetFiles(Path.Combine(replica, "ltx", "0")).Order(StringComparer.Ordinal).Last();
        long size = new FileInfo(newest).Length;
        using (var torn = new FileStream(newest, FileMode.Open))
        {
            torn.SetLength(100);
        }
        Assert.StartsWith("error: ", Exe.Run("restore", "-o", Path.Combine(dir, "before.db"), $"file://{replica}").Stderr);

        using BackgroundProcess second = Exe.Start("replicate", db, $"file://{replica}");
        string again = $"holds l0 file {Path.GetFileName(newest)[..16]} with 100 bytes, the local copy has {size}; uploading it again";
        Wait.Until(() => second.Output.Contains(again, StringComparison.Ordinal), "the torn file to be noticed", second);
        SqliteWriter.Write(db, 5);
        Assert.Equal(0, second.Stop());
        Assert.Equal(size, new FileInfo(newest).Length);
        string output = Path.Combine(dir, "out.db");
        ProcessResult r = Exe.Run("restore", "-o", output, $"file://{replica}");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(SqliteWriter.Dump(db), SqliteWriter.Dump(output));
    }

    [RequiresFact(Need.Exe)]
    public void ReplicaWipedMidRun_NoticedSnapshotRestartsTheChainAndRestoreHasEverything()
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        string replica = Path.Combine(dir, "replica");
        SqliteWriter.Write(db, 50);
        using BackgroundProcess replicate = Exe.Start("replicate", db, $"file://{replica}");
        Wait.Until(() => FileReplica.L0Files(replica).Length > 0, "the first upload", replicate);
        SqliteWriter.Write(db, 5);
        Wait.Until(() => FileReplica.NewestL0Txid(replica) >= 2, "the 5 commits to be uploaded", replicate);
        Directory.Delete(replica, recursive: true); // someone else empties the bucket
        // The application keeps writing; the next uploads land in an empty replica until the replicator
        // checks (every 10 s while uploading) and finds the files it wrote gone.
        bool Noticed()
        {
            if (replicate.Output.Contains($"replica file://{replica} no longer has txid ", StringComparison.Ordinal))
            {
                return true;
            }
            SqliteWriter.Write(db, 2);
            return false;
        }
        Wait.Until(Noticed, "the emptied replica to be noticed", replicate);
        Wait.Until(() => Directory.Exists(Path.Combine(replica, "ltx", "9")), "the snapshot that restarts the chain", replicate);
        SqliteWriter.Write(db, 20);
        Assert.Equal(0, replicate.Stop());
        string[] snapshots = Directory.GetFiles(Path.Combine(replica, "ltx", "9"));
        Assert.Single(snapshots);
        Assert.StartsWith("0000000000000001-", Path.GetFileName(snapshots[0]));
        string output = Path.Combine(dir, "out.db");
        ProcessResult r = Exe.Run("restore", "-o", output, $"file://{replica}");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(SqliteWriter.Dump(db), SqliteWriter.Dump(output));
    }
}
