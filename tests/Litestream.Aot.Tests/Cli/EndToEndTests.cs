using Xunit.Abstractions;

namespace Litestream.Aot.Tests.Cli;

/// <summary>
/// The published exe replicating while a python3 process writes 20 000 transactions of mixed sizes
/// (big rows spanning overflow pages, a DELETE + VACUUM that shrinks the database, an external TRUNCATE
/// checkpoint), once in one run and once with a restart of replicate in the middle; then restore and
/// compare, and replay every L0 file with the independent Python decoder (ltx_ref.py) to prove
/// upstream-compatible files.
/// </summary>
public class EndToEndTests
{
    private const string Writer = """
        import sqlite3, sys, random
        path, start, count, phase = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
        rnd = random.Random(start)
        c = sqlite3.connect(path, isolation_level=None)
        c.execute("PRAGMA busy_timeout=10000")
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v BLOB)")
        for i in range(start, start + count):
            size = rnd.choice([10, 100, 1000, 5000]) if i % 97 else 20000
            if i % 50 == 0:
                c.execute("BEGIN")
                for j in range(5):
                    c.execute("INSERT INTO t(v) VALUES (?)", (rnd.randbytes(size),))
                c.execute("COMMIT")
            else:
                c.execute("INSERT INTO t(v) VALUES (?)", (rnd.randbytes(size),))
            if phase == "one" and i == start + count // 2:
                k = sqlite3.connect(path, isolation_level=None)
                k.execute("PRAGMA busy_timeout=200")
                k.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
                k.close()
            if phase == "two" and i == start + count // 2:
                c.execute("DELETE FROM t WHERE id % 4 != 0")
                c.execute("VACUUM")
        """;

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
    private const string ExternalTruncate = """
        import sqlite3, sys
        k = sqlite3.connect(sys.argv[1], isolation_level=None)
        for i in range(50):
            k.execute("INSERT INTO t(v) VALUES (?)", (b"while stopped %d" % i,))
        print(k.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0])
        """;

    private readonly ITestOutputHelper _output;

    public EndToEndTests(ITestOutputHelper output) => _output = output;

    /// <summary>
    /// Without a restart one replicate process sees everything (its read transaction turns the writer's
    /// TRUNCATE checkpoint into a busy no-op). With a restart, replicate stops after the first half, a
    /// foreign TRUNCATE checkpoint empties the WAL while nobody holds it, and the second replicate must
    /// notice that the WAL no longer continues its position and write a full snapshot at the next TXID.
    /// </summary>
    [ExeTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void Replicate_TwentyThousandTxns_RestoreAndReferenceReplayMatchSource(bool restart)
    {
        string dir = Exe.TempDir();
        string db = Path.Combine(dir, "app.db");
        string replica = Path.Combine(dir, "replica");
        Exe.Python(Writer, db, "0", "10", "seed");
        var clock = System.Diagnostics.Stopwatch.StartNew();

        Exe.Daemon replicate = Exe.Start("replicate", db, $"file://{replica}");
        try
        {
            Exe.Python(Writer, db, "10", "9990", "one");
            if (restart)
            {
                Thread.Sleep(1500);
                Assert.Equal(0, replicate.Stop());
                Assert.DoesNotContain("level=ERROR", replicate.Output);
                replicate.Dispose();
                Assert.Equal("0", Exe.Python(ExternalTruncate, db).Trim()); // not busy: nobody holds the WAL now
                Assert.True(!File.Exists(db + "-wal") || new FileInfo(db + "-wal").Length == 0, "the WAL was not truncated");
                replicate = Exe.Start("replicate", db, $"file://{replica}");
            }
            Exe.Python(Writer, db, "10000", "10000", "two");
            Thread.Sleep(1500);
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

        string expected = Exe.Python(RandomRows.Dump, db);
        Assert.StartsWith("ok ", expected);
        string restored = Path.Combine(dir, "restored.db");
        Exe.Result r = Exe.Run("restore", "-integrity-check", "full", "-o", restored, $"file://{replica}");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(expected, Exe.Python(RandomRows.Dump, restored));

        int files = Directory.GetFiles(Path.Combine(replica, "ltx", "0"), "*.ltx").Length;
        if (Exe.Spec is not null)
        {
            string replayed = Path.Combine(dir, "replayed.db");
            Assert.Equal(files, int.Parse(Exe.Python(Replay, Path.Combine(Exe.Spec, "tools"), replica, replayed).Trim()));
            Assert.Equal(expected, Exe.Python(RandomRows.Dump, replayed));
        }
        _output.WriteLine($"restart={restart}: 20000 txns replicated in {replicated.TotalSeconds:F1} s as {files} L0 files; source {expected.Trim()}");
    }

    [ExeFact]
    public void Replicate_Once_SyncsAndExitsZero()
    {
        string dir = Exe.TempDir();
        string db = Path.Combine(dir, "app.db");
        Exe.Python(Writer, db, "0", "100", "seed");
        File.WriteAllText(Path.Combine(dir, "c.yml"), $"dbs:\n  - path: {db}\n    replica:\n      url: file://{dir}/replica\n");
        Exe.Result once = Exe.Run("replicate", "-once", "-config", Path.Combine(dir, "c.yml"));
        Assert.True(once.ExitCode == 0, once.Stderr);
        Exe.Result restore = Exe.Run("restore", "-o", Path.Combine(dir, "out.db"), $"file://{dir}/replica");
        Assert.True(restore.ExitCode == 0, restore.Stderr);
        Assert.Equal(Exe.Python(RandomRows.Dump, db), Exe.Python(RandomRows.Dump, Path.Combine(dir, "out.db")));
    }

    [ExeFact]
    public void Replicate_Exec_ExitsWithChildCodeAfterFinalSync()
    {
        string dir = Exe.TempDir();
        string db = Path.Combine(dir, "app.db");
        Exe.Python(Writer, db, "0", "10", "seed");
        string script = $"python3 -c \"import sqlite3; c=sqlite3.connect('{db}', isolation_level=None); c.execute('PRAGMA busy_timeout=5000'); [c.execute('INSERT INTO t(v) VALUES (1)') for i in range(500)]\"; exit 7";
        Exe.Result r = Exe.Run("replicate", "-exec", script, db, $"file://{dir}/replica");
        Assert.Equal(7, r.ExitCode);
        Exe.Result restore = Exe.Run("restore", "-o", Path.Combine(dir, "out.db"), $"file://{dir}/replica");
        Assert.True(restore.ExitCode == 0, restore.Stderr);
        Assert.Equal(Exe.Python(RandomRows.Dump, db), Exe.Python(RandomRows.Dump, Path.Combine(dir, "out.db")));
    }
}
