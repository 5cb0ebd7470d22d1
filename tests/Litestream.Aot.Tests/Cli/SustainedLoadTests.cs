using System.Diagnostics;
using System.Globalization;
using Xunit.Abstractions;

namespace Litestream.Aot.Tests.Cli;

/// <summary>
/// Writers are never hurt: a python3 writer commits as fast as it can (busy timeout 5 s) while
/// `replicate` runs with the default checkpoint settings. The writer must see no SQLITE_BUSY and no
/// commit slower than its busy timeout; checkpoints must keep happening and the WAL must stay bounded
/// (it restarts instead of growing); the restore at the end equals the source.
/// Quick mode (CI): 30 s. Long mode: LITESTREAM_LONG=1 runs 10 minutes (LITESTREAM_LOAD_SECONDS overrides),
/// see tests/long.sh.
/// </summary>
public class SustainedLoadTests(ITestOutputHelper output)
{
    private const string Writer = """
        import sqlite3, sys, time
        c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=5)
        c.execute("PRAGMA busy_timeout=5000")
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v BLOB)")
        deadline = time.time() + float(sys.argv[2])
        commits = busy = 0
        slowest = 0.0
        while time.time() < deadline:
            began = time.time()
            try:
                c.execute("INSERT INTO t(v) VALUES (randomblob(1000 + abs(random()) % 2000))")
                if commits % 1000 == 999:
                    c.execute("DELETE FROM t WHERE id IN (SELECT id FROM t ORDER BY id LIMIT 500)")
                commits += 1
            except sqlite3.OperationalError as e:
                busy += 1
                print("error:", e, file=sys.stderr)
            slowest = max(slowest, time.time() - began)
            time.sleep(0.0005)
        print(commits, busy, "%.3f" % slowest)
        """;

    private const string Dump = """
        import sqlite3, sys, hashlib
        c = sqlite3.connect(sys.argv[1])
        rows = c.execute("SELECT id, v FROM t ORDER BY id").fetchall()
        print(c.execute("PRAGMA integrity_check").fetchone()[0], len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
        """;

    [ExeFact]
    public void SustainedWrites_Quick_NoBusyWalBoundedCheckpointsHappen() => Load(Seconds(30));

    [LongFact]
    public void SustainedWrites_TenMinutes_NoBusyWalBoundedCheckpointsHappen() => Load(Seconds(600));

    private static int Seconds(int defaultSeconds) =>
        int.TryParse(Environment.GetEnvironmentVariable("LITESTREAM_LOAD_SECONDS"), out int s) ? s : defaultSeconds;

    private void Load(int seconds)
    {
        string dir = Exe.TempDir();
        string db = Path.Combine(dir, "app.db");
        string url = $"file://{dir}/replica";
        Exe.Python("import sqlite3, sys; sqlite3.connect(sys.argv[1]).execute('PRAGMA journal_mode=WAL')", db);
        using Exe.Daemon replicate = Exe.Start("replicate", "-log-level", "debug", db, url);
        var psi = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(Writer);
        psi.ArgumentList.Add(db);
        psi.ArgumentList.Add(seconds.ToString(CultureInfo.InvariantCulture));
        using Process writer = Process.Start(psi)!;
        Task<string> writerErrors = writer.StandardError.ReadToEndAsync();
        Task<string> writerResult = writer.StandardOutput.ReadToEndAsync();
        long maxWal = 0;
        string wal = db + "-wal";
        while (!writer.WaitForExit(200))
        {
            // SQLite reuses the WAL file from its start after a checkpoint rather than truncating it, so its
            // size is the high-water mark: bounded means checkpoints keep the writer wrapping around.
            maxWal = Math.Max(maxWal, File.Exists(wal) ? new FileInfo(wal).Length : 0);
            Assert.False(replicate.HasExited, $"replicate exited under load:\n{replicate.Output}");
        }
        string[] result = writerResult.Result.Trim().Split(' ');
        Assert.True(writer.ExitCode == 0, writerErrors.Result);
        int checkpoints = replicate.Output.Split('\n').Count(l => l.Contains($"msg=\"checkpoint {db}: finished", StringComparison.Ordinal));
        Assert.Equal(0, replicate.Stop());
        string summary = $"sustained load {seconds} s: {result[0]} commits, {result[1]} busy errors, slowest commit {result[2]} s, "
            + $"{checkpoints} checkpoints, WAL max {maxWal / 1024} KiB";
        output.WriteLine(summary);
        Console.WriteLine(summary);
        Assert.Equal("0", result[1]);
        Assert.True(double.Parse(result[2], CultureInfo.InvariantCulture) < 5.0, summary);
        Assert.True(checkpoints >= 1, summary);
        // Default thresholds checkpoint at 1000 pages (4 MB): the WAL restarts rather than growing with the run.
        Assert.True(maxWal < 64L * 1024 * 1024, summary);

        string restored = Path.Combine(dir, "out.db");
        Exe.Result r = Exe.Run("restore", "-o", restored, url);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(Exe.Python(Dump, db), Exe.Python(Dump, restored));
    }
}
