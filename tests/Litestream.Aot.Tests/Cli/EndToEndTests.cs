using Xunit.Abstractions;

namespace Litestream.Aot.Tests.Cli;

/// <summary>
/// The published exe replicating while a python3 process writes 20 000 transactions of mixed sizes
/// (big rows spanning overflow pages, a DELETE + VACUUM that shrinks the database, an external TRUNCATE
/// checkpoint), once in one run and once with a restart of replicate in the middle; then restore and
/// compare, and replay every L0 file with the independent Python decoder (ltx_ref.py) to prove
/// upstream-compatible files.
/// </summary>
[Requires(Need.Python)]
public class EndToEndTests
{
    private const string Replay = """
        import sys, os, glob
        sys.path.insert(0, sys.argv[1])
        import ltx_ref
        files = sorted(glob.glob(os.path.join(sys.argv[2], "ltx", "0", "*.ltx")))
        with open(sys.argv[3], "wb") as out:
            expect = 1
            for f in files:
                d = ltx_ref.decode_ltx(open(f, "rb").read())
                h = d["header"]
                assert h["min_txid"] == expect, (f, h["min_txid"], expect)
                expect = h["max_txid"] + 1
                ps = h["page_size"]
                for pgno, flags, page in d["pages"]:
                    out.seek((pgno - 1) * ps)
                    out.write(page)
                out.truncate(h["commit"] * ps)
        print(len(files))
        """;

    // Rows committed and then checkpointed away while replicate is down: only a snapshot can carry them.
    /// <summary>
    /// <paramref name="count"/> commits of random blobs (mostly small, about one in a hundred 20 KB) from row <paramref name="start"/>,
    /// about one in fifty a five-row transaction. Halfway, phase "one" runs a TRUNCATE checkpoint from another connection
    /// (the replicator's read transaction turns it into a busy no-op) and phase "two" deletes three rows in four and VACUUMs.
    /// </summary>
    private static string Write(string db, int start, int count, string phase = "seed") => SqliteWriter.Write(db, new Workload
    {
        Start = start,
        Commits = count,
        Sizes = "10:24,100:24,1000:24,5000:24,20000",
        Batch = "1:49,5",
        BusyTimeoutMs = 10_000,
        Checkpoint = phase == "one" ? "TRUNCATE" : null,
        CheckpointAfter = count / 2 + 1,
        Delete = phase == "two" ? "id % 4 != 0" : null,
        DeleteAfter = count / 2 + 1,
        Vacuum = phase == "two",
    });

    private readonly ITestOutputHelper _output;

    public EndToEndTests(ITestOutputHelper output) => _output = output;

    /// <summary>
    /// Without a restart one replicate process sees everything (its read transaction turns the writer's
    /// TRUNCATE checkpoint into a busy no-op). With a restart, replicate stops after the first half, a
    /// foreign TRUNCATE checkpoint empties the WAL while nobody holds it, and the second replicate must
    /// notice that the WAL no longer continues its position and write a full snapshot at the next TXID.
    /// </summary>
    [RequiresTheory(Need.Exe, Need.ReferenceTool)]
    [InlineData(false)]
    [InlineData(true)]
    public void Replicate_TwentyThousandTxns_RestoreAndReferenceReplayMatchSource(bool restart)
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        string replica = Path.Combine(dir, "replica");
        Write(db, 0, 10);
        var clock = System.Diagnostics.Stopwatch.StartNew();

        Replicator replicate = Replicator.ToUrl(db, $"file://{replica}");
        try
        {
            Write(db, 10, 9990, "one");
            if (restart)
            {
                replicate.CaughtUp();
                Assert.Equal(0, replicate.Stop());
                Assert.DoesNotContain("level=ERROR", replicate.Output);
                replicate.Dispose();
                // Rows committed and then checkpointed away while replicate is down: only a snapshot can carry them.
                string truncated = SqliteWriter.Write(db, new Workload { Start = 20_000, Commits = 50, Sizes = "20", Checkpoint = "TRUNCATE" });
                Assert.StartsWith("checkpoint TRUNCATE 0 ", truncated); // not busy: nobody holds the WAL now
                Assert.True(!File.Exists(db + "-wal") || new FileInfo(db + "-wal").Length == 0, "the WAL was not truncated");
                replicate = Replicator.ToUrl(db, $"file://{replica}");
            }
            Write(db, 10000, 10000, "two");
            replicate.CaughtUp();
            Assert.Equal(0, replicate.Stop());
            Assert.DoesNotContain("level=ERROR", replicate.Output);
            if (restart)
            {
                Assert.Contains("reason: wal header salt reset", replicate.Output);
            }
        }
        finally
        {
            replicate.Dispose();
        }
        TimeSpan replicated = clock.Elapsed;

        string expected = SqliteWriter.Dump(db);
        Assert.StartsWith("ok ", expected);
        string restored = Path.Combine(dir, "restored.db");
        ProcessResult r = Exe.Run("restore", "-integrity-check", "full", "-o", restored, $"file://{replica}");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(expected, SqliteWriter.Dump(restored));

        int files = Directory.GetFiles(Path.Combine(replica, "ltx", "0"), "*.ltx").Length;
        string replayed = Path.Combine(dir, "replayed.db");
        Assert.Equal(files, int.Parse(Python.Run(Replay, Path.GetDirectoryName(Prerequisites.ReferenceTool)!, replica, replayed).Trim()));
        Assert.Equal(expected, SqliteWriter.Dump(replayed));
        _output.WriteLine($"restart={restart}: 20000 txns replicated in {replicated.TotalSeconds:F1} s as {files} L0 files; source {expected.Trim()}");
    }

    [RequiresFact(Need.Exe)]
    public void Replicate_Once_SyncsAndExitsZero()
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        Write(db, 0, 100);
        File.WriteAllText(Path.Combine(dir, "c.yml"), $"dbs:\n  - path: {db}\n    replica:\n      url: file://{dir}/replica\n");
        ProcessResult once = Exe.Run("replicate", "-once", "-config", Path.Combine(dir, "c.yml"));
        Assert.True(once.ExitCode == 0, once.Stderr);
        ProcessResult restore = Exe.Run("restore", "-o", Path.Combine(dir, "out.db"), $"file://{dir}/replica");
        Assert.True(restore.ExitCode == 0, restore.Stderr);
        Assert.Equal(SqliteWriter.Dump(db), SqliteWriter.Dump(Path.Combine(dir, "out.db")));
    }

    [RequiresFact(Need.Exe)]
    public void Replicate_Exec_ExitsWithChildCodeAfterFinalSync()
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        Write(db, 0, 10);
        string script = SqliteWriter.CommandLine(db, new Workload { Commits = 500, Sizes = "1" }) + "; exit 7";
        ProcessResult r = Exe.Run("replicate", "-exec", script, db, $"file://{dir}/replica");
        Assert.Equal(7, r.ExitCode);
        ProcessResult restore = Exe.Run("restore", "-o", Path.Combine(dir, "out.db"), $"file://{dir}/replica");
        Assert.True(restore.ExitCode == 0, restore.Stderr);
        Assert.Equal(SqliteWriter.Dump(db), SqliteWriter.Dump(Path.Combine(dir, "out.db")));
    }
}
