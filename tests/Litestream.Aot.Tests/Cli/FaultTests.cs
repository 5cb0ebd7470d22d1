namespace Litestream.Aot.Tests.Cli;

/// <summary>
/// Storage faults while replicating: the replica emptied behind the replicator's back, its newest file torn
/// by a crash, or the replica path becomes unusable mid-run (a file where the
/// directory was — root ignores permission bits, so this is how a broken mount looks here). The
/// exe must say so in its log, keep the application's writes unharmed, retry with backoff, and after
/// the fault clears resume and lose nothing.
/// </summary>
public class FaultTests
{
    private const string Writer = """
        import sqlite3, sys
        c = sqlite3.connect(sys.argv[1], isolation_level=None)
        c.execute("PRAGMA busy_timeout=5000")
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v TEXT)")
        for i in range(int(sys.argv[2])):
            c.execute("INSERT INTO t(v) VALUES (?)", ("fault%d" % i,))
        """;

    private const string Dump = """
        import sqlite3, sys, hashlib
        c = sqlite3.connect(sys.argv[1])
        rows = c.execute("SELECT id, v FROM t ORDER BY id").fetchall()
        print(c.execute("PRAGMA integrity_check").fetchone()[0], len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
        """;

    [ExeFact]
    public void ReplicaPathBrokenMidRun_ErrorLoggedWritesContinueAndResumeLosesNothing()
    {
        string dir = Exe.TempDir();
        string db = Path.Combine(dir, "app.db");
        string replica = Path.Combine(dir, "replica");
        Exe.Python(Writer, db, "50");
        using Exe.Daemon replicate = Exe.Start("replicate", db, $"file://{replica}");
        Thread.Sleep(1500);
        Directory.Move(replica, replica + ".away");
        File.WriteAllText(replica, "not a directory");
        Exe.Python(Writer, db, "300"); // the application keeps writing while the replica is broken
        for (int i = 0; i < 40 && !replicate.Output.Contains("level=ERROR", StringComparison.Ordinal); i++)
        {
            Thread.Sleep(250);
        }
        Assert.Contains("level=ERROR", replicate.Output);
        Assert.Contains("replica file://" + replica, replicate.Output);
        File.Delete(replica);
        Directory.Move(replica + ".away", replica);
        Exe.Python(Writer, db, "20");
        // The upload loop retries with a doubling backoff from 1 s; on a loaded machine give it time.
        for (int i = 0; i < 60 && !replicate.Output.Contains("recovered after", StringComparison.Ordinal); i++)
        {
            Thread.Sleep(500);
        }
        Assert.Contains("recovered after", replicate.Output);
        Assert.Equal(0, replicate.Stop());
        string output = Path.Combine(dir, "out.db");
        Exe.Result r = Exe.Run("restore", "-o", output, $"file://{replica}");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(Exe.Python(Dump, db), Exe.Python(Dump, output));
    }

    [ExeFact]
    public void TornNewestReplicaFile_UploadedAgainOnRestart_RestoreHasEverything()
    {
        string dir = Exe.TempDir();
        string db = Path.Combine(dir, "app.db");
        string replica = Path.Combine(dir, "replica");
        Exe.Python(Writer, db, "50");
        using (Exe.Daemon first = Exe.Start("replicate", db, $"file://{replica}"))
        {
            Thread.Sleep(1500);
            Exe.Python(Writer, db, "5");
            Thread.Sleep(1500);
            Assert.Equal(0, first.Stop());
        }
        // A crash on a mount without atomic renames leaves the newest file cut short.
        string newest = Directory.GetFiles(Path.Combine(replica, "ltx", "0")).Order(StringComparer.Ordinal).Last();
        long size = new FileInfo(newest).Length;
        using (var torn = new FileStream(newest, FileMode.Open))
        {
            torn.SetLength(100);
        }
        Assert.StartsWith("error: ", Exe.Run("restore", "-o", Path.Combine(dir, "before.db"), $"file://{replica}").Stderr);

        using Exe.Daemon second = Exe.Start("replicate", db, $"file://{replica}");
        Exe.Python(Writer, db, "5");
        Thread.Sleep(1500);
        Assert.Equal(0, second.Stop());
        Assert.Contains($"holds l0 file {Path.GetFileName(newest)[..16]} with 100 bytes, the local copy has {size}; uploading it again", second.Output);
        Assert.Equal(size, new FileInfo(newest).Length);
        string output = Path.Combine(dir, "out.db");
        Exe.Result r = Exe.Run("restore", "-o", output, $"file://{replica}");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(Exe.Python(Dump, db), Exe.Python(Dump, output));
    }

    [ExeFact]
    public void ReplicaWipedMidRun_NoticedSnapshotRestartsTheChainAndRestoreHasEverything()
    {
        string dir = Exe.TempDir();
        string db = Path.Combine(dir, "app.db");
        string replica = Path.Combine(dir, "replica");
        Exe.Python(Writer, db, "50");
        using Exe.Daemon replicate = Exe.Start("replicate", db, $"file://{replica}");
        for (int i = 0; i < 40 && !Directory.Exists(Path.Combine(replica, "ltx", "0")); i++)
        {
            Thread.Sleep(250);
        }
        Exe.Python(Writer, db, "5");
        Thread.Sleep(1500);
        Directory.Delete(replica, recursive: true); // someone else empties the bucket
        // The application keeps writing; the next uploads land in an empty replica until the replicator
        // checks (every 10 s while uploading) and finds the files it wrote gone.
        for (int i = 0; i < 120 && !replicate.Output.Contains("no longer has txid", StringComparison.Ordinal); i++)
        {
            Exe.Python(Writer, db, "2");
            Thread.Sleep(250);
        }
        Assert.Contains($"replica file://{replica} no longer has txid ", replicate.Output);
        for (int i = 0; i < 40 && !Directory.Exists(Path.Combine(replica, "ltx", "9")); i++)
        {
            Thread.Sleep(250);
        }
        Exe.Python(Writer, db, "20");
        Assert.Equal(0, replicate.Stop());
        string[] snapshots = Directory.GetFiles(Path.Combine(replica, "ltx", "9"));
        Assert.Single(snapshots);
        Assert.StartsWith("0000000000000001-", Path.GetFileName(snapshots[0]));
        string output = Path.Combine(dir, "out.db");
        Exe.Result r = Exe.Run("restore", "-o", output, $"file://{replica}");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(Exe.Python(Dump, db), Exe.Python(Dump, output));
    }
}
