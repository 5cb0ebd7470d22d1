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
[Requires(Need.Python)]
public class ReplicateExitTests(ITestOutputHelper output)
{
    [RequiresFact(Need.Exe)]
    public void Once_EmptySecondReplicaAfterLocalStateOfAnother_ExitsZeroWithTheDatabaseUploaded()
    {
        // Local state from replica A (its first L0 files pruned after upload) meets an empty replica B: the chain
        // restarts with a snapshot, which the same -once run must upload.
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        SqliteWriter.Write(db, 100);
        AssertOk(Exe.Run("replicate", "-once", db, $"file://{dir}/a"));
        SqliteWriter.Write(db, 5);
        AssertOk(Exe.Run("replicate", "-once", db, $"file://{dir}/a"));
        SqliteWriter.Write(db, 5);

        AssertOk(Exe.Run("replicate", "-once", db, $"file://{dir}/b"));

        AssertRestoresTo(dir, $"file://{dir}/b", db, "ok 110 ");
    }

    [RequiresFact(Need.Exe, Need.Tmpfs)]
    public void SigTerm_ReplicaReadOnly_ExitsNonZeroNamingWhatDidNotReachIt()
    {
        string dir = TestRepo.TempDir();
        using var mount = new Tmpfs(Path.Combine(dir, "mnt"), "16m");
        string db = Path.Combine(dir, "app.db"), replica = Path.Combine(mount.Path, "replica");
        string config = Config(dir, db, replica);
        SqliteWriter.Write(db, 5);
        using BackgroundProcess replicate = Exe.Start("replicate", "-config", config);
        Wait.Until(() => FirstUploadDone(replica), "the first upload", replicate);

        mount.SetReadOnly(true);
        SqliteWriter.Write(db, 20);
        Wait.Until(() => replicate.Output.Contains("Read-only file system", StringComparison.Ordinal), "an upload to fail", replicate);
        Assert.Equal(1, replicate.Stop());

        AssertReportedBehindThenSentByTheNextRun(replicate.Output, mount, config, db, replica);
    }

    [RequiresFact(Need.Exe, Need.Tmpfs)]
    public void Exec_ReplicaReadOnlyWhenTheChildExits_ExitsNonZeroNamingWhatDidNotReachIt()
    {
        string dir = TestRepo.TempDir();
        using var mount = new Tmpfs(Path.Combine(dir, "mnt"), "16m");
        string db = Path.Combine(dir, "app.db"), replica = Path.Combine(mount.Path, "replica"), go = Path.Combine(dir, "go");
        string config = Config(dir, db, replica);
        SqliteWriter.Write(db, 5);
        using BackgroundProcess replicate = Exe.Start("replicate", "-config", config, "-exec", $"until [ -e {go} ]; do sleep 0.05; done; exec {SqliteWriter.CommandLine(db, new Workload { Commits = 20 })}");
        Wait.Until(() => FirstUploadDone(replica), "the first upload", replicate);

        mount.SetReadOnly(true);
        File.WriteAllText(go, "");
        Wait.Until(() => replicate.HasExited, "the child to exit and replicate to stop");
        Assert.Equal(1, replicate.Stop());

        AssertReportedBehindThenSentByTheNextRun(replicate.Output, mount, config, db, replica);
    }

    [RequiresFact(Need.Exe)]
    public void SecondReplicator_SameDatabase_RefusedNamingTheFirstsPid_AndAKilledFirstLeavesNoLock()
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db"), replica = Path.Combine(dir, "replica");
        SqliteWriter.Write(db, 10);
        using BackgroundProcess first = Exe.Start("replicate", db, $"file://{replica}");
        Wait.Until(() => FirstUploadDone(replica), "the first upload", first);
        string meta = Path.Combine(dir, ".app.db-litestream");

        // Continuous, -once, with a config, with -exec (its child stopped: `exec` so the SIGTERM reaches sleep, not
        // only the shell), and reset: each refused at once.
        string expected = $"error: {db} is already replicated by pid {first.Pid}\n" +
            $"hint: one process replicates a database: stop the other one (kill {first.Pid}) first, or leave it running and do not start this one\n";
        string config = Config(dir, db, Path.Combine(dir, "other"));
        foreach (string[] args in new string[][] { ["replicate", db, $"file://{replica}"], ["replicate", "-once", db, $"file://{dir}/other"], ["replicate", "-config", config], ["replicate", "-exec", "exec sleep 60", db, $"file://{dir}/other"], ["reset", db] })
        {
            var clock = Stopwatch.StartNew();
            ProcessResult second = Exe.Run(args);
            Assert.True(second.ExitCode == 1, $"{string.Join(' ', args)}: exit {second.ExitCode}\n{second.Stderr}");
            Assert.EndsWith(expected, second.Stderr);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"{string.Join(' ', args)} took {clock.Elapsed} to give up");
        }
        // The refused ones did not touch the first one's meta directory: its lock and health files are its own.
        Assert.False(Directory.Exists(Path.Combine(dir, "other")));
        // cat, not File.ReadAllText: .NET's own shared flock on open conflicts with the replicator's exclusive one.
        ProcessResult lockFile = Processes.Run("cat", [Path.Combine(meta, "replicate.lock")]);
        Assert.Equal((0, $"{first.Pid}\n"), (lockFile.ExitCode, lockFile.Stdout));
        Assert.StartsWith($"pid {first.Pid}\n", File.ReadAllText(Path.Combine(meta, "health")));

        // The first replicator carries on; killed with SIGKILL it leaves no stale lock.
        SqliteWriter.Write(db, 10);
        first.Kill();
        AssertOk(Exe.Run("replicate", "-once", db, $"file://{replica}"));
        AssertRestoresTo(dir, $"file://{replica}", db, "ok 20 ");
    }

    [RequiresFact(Need.Exe, Need.LongMode)]
    public void TwoReplicators_Long_EverySecondOneRefusedAndNothingLost()
    {
        TimeSpan duration = TimeSpan.FromSeconds(int.Parse(Environment.GetEnvironmentVariable("LITESTREAM_TWO_REPLICATORS_SECONDS") ?? "300", CultureInfo.InvariantCulture));
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db"), replica = Path.Combine(dir, "replica"), stop = Path.Combine(dir, "stop");
        string config = Config(dir, db, replica);
        SqliteWriter.Write(db, 10);
        using BackgroundProcess writer = SqliteWriter.Start(db, new Workload { StopFile = stop, Pause = 0.005 });
        BackgroundProcess current = StartOwner(db, replica);
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
                ProcessResult second = Exe.Run(args);
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
                Thread.Sleep(Random.Shared.Next(500, 2500)); // the pace of the rounds, not a wait for something
            }
            File.WriteAllText(stop, "");
            string committed = writer.WaitForSuccess(TimeSpan.FromMinutes(2)).Trim().Split('\n')[^1].Split(' ')[0];
            Assert.Equal(0, current.Stop());
            string summary = $"two replicators: {rounds} second replicators refused, {kills} owners killed with SIGKILL, {committed} rows committed in {clock.Elapsed.TotalSeconds:0} s";
            AssertRestoresTo(dir, $"file://{replica}", db, "ok ");
            output.WriteLine(summary + ", restore identical");
        }
        finally
        {
            current.Dispose();
            File.WriteAllText(stop, "");
        }
    }

    /// <summary>Starts a replicator and waits until it holds the database (its lock is taken before the open is logged).</summary>
    private static BackgroundProcess StartOwner(string db, string replica)
    {
        BackgroundProcess owner = Exe.Start("replicate", db, $"file://{replica}");
        Wait.Until(() => owner.Output.Contains($"initialized db {db}", StringComparison.Ordinal), "the replicator to open the database", owner);
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
        AssertRestoresTo(Path.GetDirectoryName(db)!, $"file://{replica}", db, "ok 25 ");
    }

    private static void AssertOk(ProcessResult r) => Assert.True(r.ExitCode == 0, $"exit {r.ExitCode}: {r.Stderr}");

    private static void AssertRestoresTo(string dir, string url, string db, string expectedPrefix)
    {
        string output = Path.Combine(dir, $"restored-{Guid.NewGuid():N}.db");
        AssertOk(Exe.Run("restore", "-o", output, url));
        string expected = SqliteWriter.Dump(db);
        Assert.StartsWith(expectedPrefix, expected);
        Assert.Equal(expected, SqliteWriter.Dump(output));
    }
}
