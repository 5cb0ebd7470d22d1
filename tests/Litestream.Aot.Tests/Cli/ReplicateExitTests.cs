using System.Diagnostics;
using System.Globalization;
using Xunit.Abstractions;

namespace Litestream.Aot.Tests.Cli;

/// <summary>
/// `replicate` exits 0 only when it is true: `-once` only when the replica then holds the database, a stop
/// (SIGTERM, or the end of the -exec child) only when the final sync reached the replica, and a second replicator
/// of a database is refused, naming the first one's pid, instead of fighting over its meta directory.
/// Long mode (LITESTREAM_LONG=1, tests/long.sh) runs two replicators against one busy database for 5 minutes
/// (LITESTREAM_TWO_REPLICATORS_SECONDS overrides).
/// </summary>
public class ReplicateExitTests(ITestOutputHelper output)
{
    private const string Write = """
        import sqlite3, sys
        c = sqlite3.connect(sys.argv[1], isolation_level=None)
        c.execute("PRAGMA busy_timeout=5000")
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v TEXT)")
        for i in range(int(sys.argv[2])):
            c.execute("INSERT INTO t(v) VALUES (?)", ("row %d" % i,))
        """;

    private const string Dump = """
        import sqlite3, sys
        c = sqlite3.connect(sys.argv[1])
        print(c.execute("PRAGMA integrity_check").fetchone()[0], c.execute("SELECT count(*), group_concat(v, ',') FROM t").fetchone())
        """;

    // Commits one row per transaction until argv[2] exists; prints how many.
    private const string Busy = """
        import os, sqlite3, sys, time
        c = sqlite3.connect(sys.argv[1], isolation_level=None)
        c.execute("PRAGMA busy_timeout=5000")
        n = 0
        while not os.path.exists(sys.argv[2]):
            c.execute("INSERT INTO t(v) VALUES (?)", ("busy %d" % n,))
            n += 1
            time.sleep(0.005)
        print(n)
        """;

    // The -exec child: waits for argv[2] to exist, commits argv[3] rows to argv[1], exits 0.
    private const string Child = """
        import os, sqlite3, sys, time
        while not os.path.exists(sys.argv[2]):
            time.sleep(0.05)
        c = sqlite3.connect(sys.argv[1], isolation_level=None)
        c.execute("PRAGMA busy_timeout=5000")
        for i in range(int(sys.argv[3])):
            c.execute("INSERT INTO t(v) VALUES (?)", ("child %d" % i,))
        """;

    [ExeFact]
    public void Once_EmptySecondReplicaAfterLocalStateOfAnother_ExitsZeroWithTheDatabaseUploaded()
    {
        // Local state from replica A (its first L0 files pruned after upload) meets an empty replica B: the chain
        // restarts with a snapshot, which the same -once run must upload.
        string dir = Exe.TempDir();
        string db = Path.Combine(dir, "app.db");
        Exe.Python(Write, db, "100");
        AssertOk(Exe.Run("replicate", "-once", db, $"file://{dir}/a"));
        Exe.Python(Write, db, "5");
        AssertOk(Exe.Run("replicate", "-once", db, $"file://{dir}/a"));
        Exe.Python(Write, db, "5");

        AssertOk(Exe.Run("replicate", "-once", db, $"file://{dir}/b"));

        AssertRestoresTo(dir, $"file://{dir}/b", db, "ok (110, ");
    }

    [TmpfsFact]
    public void SigTerm_ReplicaReadOnly_ExitsNonZeroNamingWhatDidNotReachIt()
    {
        string dir = Exe.TempDir();
        using var mount = new Tmpfs(Path.Combine(dir, "mnt"), "16m");
        string db = Path.Combine(dir, "app.db"), replica = Path.Combine(mount.Path, "replica");
        string config = Config(dir, db, replica);
        Exe.Python(Write, db, "5");
        using Exe.Daemon replicate = Exe.Start("replicate", "-config", config);
        WaitFor(() => FirstUploadDone(replica), replicate, "the first upload");

        mount.SetReadOnly(true);
        Exe.Python(Write, db, "20");
        WaitFor(() => replicate.Output.Contains("Read-only file system", StringComparison.Ordinal), replicate, "an upload to fail");
        Assert.Equal(1, replicate.Stop());

        AssertReportedBehindThenSentByTheNextRun(replicate.Output, mount, config, db, replica);
    }

    [TmpfsFact]
    public void Exec_ReplicaReadOnlyWhenTheChildExits_ExitsNonZeroNamingWhatDidNotReachIt()
    {
        string dir = Exe.TempDir();
        using var mount = new Tmpfs(Path.Combine(dir, "mnt"), "16m");
        string db = Path.Combine(dir, "app.db"), replica = Path.Combine(mount.Path, "replica"), go = Path.Combine(dir, "go");
        string child = Path.Combine(dir, "child.py");
        File.WriteAllText(child, Child);
        string config = Config(dir, db, replica);
        Exe.Python(Write, db, "5");
        using Exe.Daemon replicate = Exe.Start("replicate", "-config", config, "-exec", $"python3 {child} {db} {go} 20");
        WaitFor(() => FirstUploadDone(replica), replicate, "the first upload");

        mount.SetReadOnly(true);
        File.WriteAllText(go, "");
        WaitFor(() => replicate.HasExited, replicate, "the child to exit and replicate to stop", allowExit: true);
        Assert.Equal(1, replicate.Stop());

        AssertReportedBehindThenSentByTheNextRun(replicate.Output, mount, config, db, replica);
    }

    [ExeFact]
    public void SecondReplicator_SameDatabase_RefusedNamingTheFirstsPid_AndAKilledFirstLeavesNoLock()
    {
        string dir = Exe.TempDir();
        string db = Path.Combine(dir, "app.db"), replica = Path.Combine(dir, "replica");
        Exe.Python(Write, db, "10");
        using Exe.Daemon first = Exe.Start("replicate", db, $"file://{replica}");
        WaitFor(() => FirstUploadDone(replica), first, "the first upload");
        string meta = Path.Combine(dir, ".app.db-litestream");

        // Continuous, -once, with a config, with -exec (its child stopped: `exec` so the SIGTERM reaches sleep, not
        // only the shell), and reset: each refused at once.
        string expected = $"error: {db} is already replicated by pid {first.Pid}\n" +
            $"hint: one process replicates a database: stop the other one (kill {first.Pid}) first, or leave it running and do not start this one\n";
        string config = Config(dir, db, Path.Combine(dir, "other"));
        foreach (string[] args in new string[][] { ["replicate", db, $"file://{replica}"], ["replicate", "-once", db, $"file://{dir}/other"], ["replicate", "-config", config], ["replicate", "-exec", "exec sleep 60", db, $"file://{dir}/other"], ["reset", db] })
        {
            var clock = Stopwatch.StartNew();
            Exe.Result second = Exe.Run(args);
            Assert.True(second.ExitCode == 1, $"{string.Join(' ', args)}: exit {second.ExitCode}\n{second.Stderr}");
            Assert.EndsWith(expected, second.Stderr);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"{string.Join(' ', args)} took {clock.Elapsed} to give up");
        }
        // The refused ones did not touch the first one's meta directory: its lock and health files are its own.
        Assert.False(Directory.Exists(Path.Combine(dir, "other")));
        // cat, not File.ReadAllText: .NET's own shared flock on open conflicts with the replicator's exclusive one.
        Assert.Equal((0, $"{first.Pid}\n"), Exe.Tool("cat", Path.Combine(meta, "replicate.lock")));
        Assert.StartsWith($"pid {first.Pid}\n", File.ReadAllText(Path.Combine(meta, "health")));

        // The first replicator carries on; killed with SIGKILL it leaves no stale lock.
        Exe.Python(Write, db, "10");
        first.Kill();
        AssertOk(Exe.Run("replicate", "-once", db, $"file://{replica}"));
        AssertRestoresTo(dir, $"file://{replica}", db, "ok (20, ");
    }

    [LongFact]
    public void TwoReplicators_Long_EverySecondOneRefusedAndNothingLost()
    {
        TimeSpan duration = TimeSpan.FromSeconds(int.Parse(Environment.GetEnvironmentVariable("LITESTREAM_TWO_REPLICATORS_SECONDS") ?? "300", CultureInfo.InvariantCulture));
        string dir = Exe.TempDir();
        string db = Path.Combine(dir, "app.db"), replica = Path.Combine(dir, "replica"), stop = Path.Combine(dir, "stop");
        string config = Config(dir, db, replica);
        Exe.Python(Write, db, "10");
        using Process writer = Exe.StartPython(Busy, db, stop);
        Exe.Daemon current = StartOwner(db, replica);
        var clock = Stopwatch.StartNew();
        int rounds = 0, kills = 0;
        try
        {
            while (clock.Elapsed < duration)
            {
                // In turn: a continuous replicator, -once, and one from a config, each refused naming the running one.
                rounds++;
                string[] args = (rounds % 3) switch
                {
                    0 => ["replicate", db, $"file://{replica}"],
                    1 => ["replicate", "-once", db, $"file://{replica}"],
                    _ => ["replicate", "-config", config],
                };
                Exe.Result second = Exe.Run(args);
                Assert.True(second.ExitCode == 1, $"round {rounds}: {string.Join(' ', args)} exit {second.ExitCode}\n{second.Stderr}\n{current.Output}");
                Assert.Contains($"error: {db} is already replicated by pid {current.Pid}\n", second.Stderr);
                Assert.False(current.HasExited, current.Output);
                if (rounds % 5 == 0)
                {
                    // The running one dies with SIGKILL mid-write; the next one takes the lock and carries on.
                    current.Kill();
                    current.Dispose();
                    kills++;
                    current = StartOwner(db, replica);
                }
                Thread.Sleep(Random.Shared.Next(500, 2500));
            }
            File.WriteAllText(stop, "");
            string committed = writer.StandardOutput.ReadToEnd().Trim();
            writer.WaitForExit();
            Assert.Equal(0, current.Stop());
            string summary = $"two replicators: {rounds} second replicators refused, {kills} owners killed with SIGKILL, {committed} rows committed in {clock.Elapsed.TotalSeconds:0} s";
            AssertRestoresTo(dir, $"file://{replica}", db, "ok (");
            output.WriteLine(summary + ", restore identical");
        }
        finally
        {
            current.Dispose();
            File.WriteAllText(stop, "");
        }
    }

    /// <summary>Starts a replicator and waits until it holds the database (its lock is taken before the open is logged).</summary>
    private static Exe.Daemon StartOwner(string db, string replica)
    {
        Exe.Daemon owner = Exe.Start("replicate", db, $"file://{replica}");
        WaitFor(() => owner.Output.Contains($"initialized db {db}", StringComparison.Ordinal), owner, "the replicator to open the database");
        return owner;
    }

    private static string Config(string dir, string db, string replica)
    {
        string config = Path.Combine(dir, $"litestream-{Guid.NewGuid():N}.yml");
        File.WriteAllText(config, $"shutdown-sync-timeout: 2s\ndbs:\n  - path: {db}\n    replica:\n      url: file://{replica}\n");
        return config;
    }

    private static bool FirstUploadDone(string replica)
        => File.Exists(Path.Combine(replica, "ltx", "0", "0000000000000001-0000000000000001.ltx"));

    /// <summary>
    /// One ERROR line and the error line name the database, the replica and the TXIDs it lacks, the hint says where
    /// they are; and nothing is lost: once the replica is writable again, the next run sends them.
    /// </summary>
    private static void AssertReportedBehindThenSentByTheNextRun(string output, Tmpfs mount, string config, string db, string replica)
    {
        string[] lines = output.Split('\n');
        string what = $"{db}: transactions ";
        string where = $" did not reach replica file://{replica} (it holds txid ";
        Assert.Contains(lines, l => l.Contains("level=ERROR msg=\"final sync failed: " + what, StringComparison.Ordinal)
            && l.Contains(where, StringComparison.Ordinal) && l.Contains("Read-only file system", StringComparison.Ordinal));
        int error = Array.FindIndex(lines, l => l.StartsWith("error: ", StringComparison.Ordinal));
        Assert.True(error >= 0, output);
        Assert.StartsWith("error: " + what, lines[error]);
        Assert.Contains(where, lines[error]);
        Assert.Equal("hint: the missing transactions are kept in the database's -litestream meta directory; fix the replica and run 'litestream replicate' (or 'replicate -once') to send them", lines[error + 1]);

        mount.SetReadOnly(false);
        AssertOk(Exe.Run("replicate", "-once", "-config", config));
        AssertRestoresTo(Path.GetDirectoryName(db)!, $"file://{replica}", db, "ok (25, ");
    }

    private static void AssertOk(Exe.Result r) => Assert.True(r.ExitCode == 0, $"exit {r.ExitCode}: {r.Stderr}");

    private static void AssertRestoresTo(string dir, string url, string db, string expectedPrefix)
    {
        string output = Path.Combine(dir, $"restored-{Guid.NewGuid():N}.db");
        AssertOk(Exe.Run("restore", "-o", output, url));
        string expected = Exe.Python(Dump, db);
        Assert.StartsWith(expectedPrefix, expected);
        Assert.Equal(expected, Exe.Python(Dump, output));
    }

    private static void WaitFor(Func<bool> condition, Exe.Daemon replicate, string what, bool allowExit = false)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.False(!allowExit && replicate.HasExited, $"replicate exited while waiting for {what}:\n{replicate.Output}");
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(90), $"timed out waiting for {what}:\n{replicate.Output}");
            Thread.Sleep(100);
        }
    }
}
