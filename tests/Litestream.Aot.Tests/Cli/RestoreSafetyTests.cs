using System.Diagnostics;
using System.Globalization;
using Litestream.Ltx;
using Litestream.Ltx.Tests.Fixtures;

namespace Litestream.Aot.Tests.Cli;

/// <summary>
/// <c>restore</c> says "restored" and exits 0 only when the file at the output path is the replica's database
/// and nothing beside it will change that (issue 17): a stale <c>-wal</c>/<c>-shm</c>/<c>-journal</c> beside
/// the output is refused, a signal is an interruption with its own exit code, a snapshot whose header claims
/// pages it does not hold or a file that grows the database past its own pages is refused naming the file,
/// and a FIFO named like an LTX file is refused instead of hanging. In every refusal nothing is renamed into
/// place and no temp file is left.
/// </summary>
[Requires(Need.Python)]
public class RestoreSafetyTests
{
    private const string FirstSnapshot = "ltx/0/0000000000000001-0000000000000001.ltx";

    /// <summary>A database of <paramref name="rows"/> random blobs, replicated once to dir/replica.</summary>
    private static (string Dir, string Replica) Replicated(int rows, int pageSize = 4096, int blob = 1000)
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        string replica = Path.Combine(dir, "replica");
        AddRows(db, rows, pageSize, blob);
        ProcessResult r = Exe.Run("replicate", "-once", db, "file://" + replica);
        Assert.True(r.ExitCode == 0, r.Stderr);
        return (dir, replica);
    }

    /// <summary>
    /// <see cref="Replicated"/> with 100 rows, then 5 more in a second file, ltx/0/…02-…02 (the whole database:
    /// the writer's close checkpointed and reset the WAL).
    /// </summary>
    private static (string Dir, string Replica, string Second) ReplicatedTwice()
    {
        (string dir, string replica) = Replicated(100);
        AddRows(Path.Combine(dir, "app.db"), 5);
        Assert.Equal(0, Exe.Run("replicate", "-once", Path.Combine(dir, "app.db"), "file://" + replica).ExitCode);
        return (dir, replica, Path.Combine(replica, "ltx", "0", "0000000000000002-0000000000000002.ltx"));
    }

    /// <summary>Runs a restore to dir/out.db that must fail (exit 1) and leave nothing; returns its stderr.</summary>
    private static string Refused(string dir, string replica, params string[] flags)
    {
        string output = Path.Combine(dir, "out.db");
        ProcessResult r = Exe.Run(["restore", .. flags, "-o", output, "file://" + replica]);
        Assert.True(r.ExitCode == 1, $"exit {r.ExitCode}: {r.Stderr}");
        Assert.Empty(Leftovers(dir, output));
        return r.Stderr;
    }

    /// <summary>One transaction of <paramref name="rows"/> random blobs of <paramref name="blob"/> bytes.</summary>
    private static void AddRows(string db, int rows, int pageSize = 4096, int blob = 1000)
        => SqliteWriter.Write(db, new Workload { Commits = 1, Batch = rows.ToString(CultureInfo.InvariantCulture), Sizes = blob.ToString(CultureInfo.InvariantCulture), PageSize = pageSize });

    private static void Signal(int pid, string signal) => Assert.Equal(0, Processes.Run("kill", ["-" + signal, pid.ToString(CultureInfo.InvariantCulture)]).ExitCode);

    /// <summary>Leaves out.db, out.db-wal and out.db-shm of another database, as a killed writer leaves them (no close, so no checkpoint).</summary>
    private static void LeaveStaleDatabase(string path) => SqliteWriter.Write(path, new Workload { Commits = 20, Abandon = true });

    /// <summary>The restored database is the replicated one, whole, with nothing of a stale file beside it replayed into it.</summary>
    private static void AssertRestored(string dir, string output) => Assert.Equal(SqliteWriter.Dump(Path.Combine(dir, "app.db")), SqliteWriter.Dump(output));

    private static string[] Leftovers(string dir, string output) => Directory.GetFiles(dir, Path.GetFileName(output) + "*");

    [RequiresTheory(Need.Exe)]
    [InlineData("-wal")]
    [InlineData("-shm")]
    [InlineData("-journal")]
    public void Restore_StaleSidecarBesideTheOutput_RefusedNamingIt_ForceReplacesIt(string suffix)
    {
        (string dir, string replica) = Replicated(100);
        string output = Path.Combine(dir, "out.db");
        LeaveStaleDatabase(output);
        File.Delete(output);
        foreach (string other in new[] { "-wal", "-shm" }.Where(s => s != suffix))
        {
            File.Delete(output + other);
        }
        if (suffix == "-journal")
        {
            File.WriteAllText(output + suffix, "a rollback journal of another database");
        }
        byte[] stale = File.ReadAllBytes(output + suffix);

        ProcessResult refused = Exe.Run("restore", "-o", output, "file://" + replica);
        Assert.Equal(1, refused.ExitCode);
        Assert.Equal(
            $"error: {output}{suffix} exists beside the restore output: SQLite would apply it to the restored database\n" +
            $"hint: delete it if no process has {output} open, or pass -force to replace the database and its -wal/-shm/-journal\n",
            refused.Stderr);
        Assert.False(File.Exists(output));
        Assert.Equal(stale, File.ReadAllBytes(output + suffix));
        Assert.Equal([output + suffix], Leftovers(dir, output));

        ProcessResult forced = Exe.Run("restore", "-force", "-o", output, "file://" + replica);
        Assert.True(forced.ExitCode == 0, forced.Stderr);
        Assert.False(File.Exists(output + suffix));
        AssertRestored(dir, output);
    }

    [RequiresFact(Need.Exe)]
    public void Restore_LeftoversOfAnInterruptedRestore_AreNotReplayedIntoTheResult()
    {
        // A restore killed during its integrity check leaves out.db.tmp and SQLite's -wal/-shm beside it;
        // the next restore's check must not replay that WAL into its new temp file.
        (string dir, string replica) = Replicated(100);
        string output = Path.Combine(dir, "out.db");
        LeaveStaleDatabase(output + ".tmp");
        Assert.True(File.Exists(output + ".tmp-wal"));

        ProcessResult r = Exe.Run("restore", "-o", output, "file://" + replica);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal([output], Leftovers(dir, output));
        AssertRestored(dir, output);
    }

    [RequiresFact(Need.Exe)]
    public void RestoreFollow_StaleWalBesideTheOutput_RefusedAtStartAndOnResume_AndAStopIsExitZero()
    {
        (string dir, string replica) = Replicated(100);
        string output = Path.Combine(dir, "follow.db");
        LeaveStaleDatabase(output);
        File.Delete(output);
        File.Delete(output + "-shm");
        string[] follow = ["restore", "-f", "-follow-interval", "100ms", "-o", output, "file://" + replica];

        using (BackgroundProcess refused = Exe.Start(follow))
        {
            Assert.True(refused.WaitForExit(TimeSpan.FromMinutes(2)) == 1, $"follow mode started beside a stale -wal: {refused.Output}");
            Assert.Contains($"error: {output}-wal exists beside the restore output", refused.Output);
            Assert.False(File.Exists(output));
        }

        File.Delete(output + "-wal");
        using (BackgroundProcess first = Exe.Start(follow))
        {
            Wait.Until(() => first.Output.Contains("following ", StringComparison.Ordinal), "follow mode to start", first);
            // Following ends on a signal: that is its normal stop.
            Assert.Equal(0, first.Stop());
        }
        AssertRestored(dir, output);

        string other = Path.Combine(dir, "other.db");
        LeaveStaleDatabase(other);
        File.Move(other + "-wal", output + "-wal");
        using BackgroundProcess resumed = Exe.Start(follow);
        Assert.True(resumed.WaitForExit(TimeSpan.FromMinutes(2)) == 1, $"follow mode resumed beside a stale -wal: {resumed.Output}");
        Assert.Contains($"error: {output}-wal exists beside the followed database", resumed.Output);
    }

    [RequiresTheory(Need.Exe)]
    [InlineData("INT", 130, "SIGINT", false)]
    [InlineData("TERM", 143, "SIGTERM", false)]
    // Started with the signal ignored (nohup, a backgrounded job): the exe takes it back, as Go's signal.Notify does.
    [InlineData("INT", 130, "SIGINT", true)]
    [InlineData("TERM", 143, "SIGTERM", true)]
    public void Restore_SignalMidRestore_Exits128PlusTheSignal_WithOneLine_AndLeavesNothing(string signal, int code, string name, bool inheritedIgnored)
    {
        // ~48 MB: writing, fsyncing and checking it takes far longer than delivering a signal.
        (string dir, string replica) = Replicated(1200, blob: 40_000);
        string output = Path.Combine(dir, "out.db");
        string[] args = ["restore", "-integrity-check", "full", "-o", output, "file://" + replica];
        using BackgroundProcess restore = inheritedIgnored ? Exe.StartIgnoring(signal, args) : Exe.Start(args);
        Wait.Until(() => File.Exists(output + ".tmp"), "the restore's temp file", restore);
        // Freeze it mid-restore, so the signal surely lands before the rename.
        Signal(restore.Pid, "STOP");
        Assert.True(File.Exists(output + ".tmp") && !File.Exists(output), "the restore finished before it could be stopped");
        Signal(restore.Pid, signal);
        Signal(restore.Pid, "CONT");
        var clock = Stopwatch.StartNew();
        int? exit = restore.WaitForExit(TimeSpan.FromMinutes(2));
        Assert.True(exit == code, $"exit {exit?.ToString(CultureInfo.InvariantCulture) ?? "none within 2 min"}: {restore.Output}");
        // Promptly, not after finishing the restore.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"exited {clock.Elapsed} after the signal");
        Assert.Equal($"error: restore interrupted by {name}: nothing was written to {output}", restore.Output.Trim());
        Assert.Empty(Leftovers(dir, output));
    }

    /// <summary>
    /// Snapshots whose header Commit is past the pages they hold (LTX.md §3: a snapshot holds every page 1..Commit),
    /// checksummed like good files so only the format rule catches them.
    /// </summary>
    [RequiresTheory(Need.Exe)]
    [InlineData(4096, 100, "0xFFFFFFFF", 0, "quick")] // 29 real pages: was a 16 TiB sparse file passing quick_check
    [InlineData(4096, 100, "35", 0, "quick")] // was zero-filled tail pages
    [InlineData(4096, 100, "same", 20, "none")] // 20 of 29 pages, no SQLite check: was a malformed database and exit 0
    [InlineData(65536, 1800, "0xFFFFFFFF", 0, "quick")] // 64 KiB pages: was "Specified file length was too large for the file system"
    [InlineData(4096, 3000, "+6", 0, "none")] // over 2 MiB: planned from its page index, applied by segments
    public void Restore_SnapshotWhoseCommitPassesItsPages_RefusedNamingTheFile_NothingWritten(int pageSize, int rows, string commit, int keep, string integrity)
    {
        (string dir, string replica) = Replicated(rows, pageSize);
        string path = Path.Combine(replica, FirstSnapshot);
        (LtxHeader header, List<(uint Pgno, byte[] Page)> pages) = LtxFileBuilder.Decode(File.ReadAllBytes(path));
        uint claimed = commit switch
        {
            "same" => header.Commit,
            ['+', .. string extra] => header.Commit + uint.Parse(extra, CultureInfo.InvariantCulture),
            ['0', 'x', .. string hex] => uint.Parse(hex, NumberStyles.HexNumber, CultureInfo.InvariantCulture),
            _ => uint.Parse(commit, CultureInfo.InvariantCulture),
        };
        File.WriteAllBytes(path, LtxFileBuilder.BuildUnchecked(header with { Commit = claimed }, keep > 0 ? pages.Take(keep) : pages));
        uint last = keep > 0 ? (uint)keep : pages[^1].Pgno;

        Assert.StartsWith($"error: {FirstSnapshot}: snapshot transaction file is missing pages: last page {last}, commit {claimed}\nhint: ",
            Refused(dir, replica, "-integrity-check", integrity));
    }

    [RequiresFact(Need.Exe)]
    public void Restore_FileThatGrowsTheDatabasePastItsOwnPages_RefusedNamingTheFile()
    {
        (string dir, string replica, string second) = ReplicatedTwice();
        (LtxHeader header, List<(uint Pgno, byte[] Page)> pages) = LtxFileBuilder.Decode(File.ReadAllBytes(second));
        uint before = LtxFileBuilder.Decode(File.ReadAllBytes(Path.Combine(replica, FirstSnapshot))).Header.Commit;
        File.WriteAllBytes(second, LtxFileBuilder.BuildUnchecked(header with { Commit = 0xFFFFFFF0 }, pages));
        Assert.StartsWith(
            $"error: ltx/0/0000000000000002-0000000000000002.ltx: commit 4294967280 grows the database from {before} pages past the file's last page {pages[^1].Pgno} (page size 4096)\n",
            Refused(dir, replica));
    }

    /// <summary>A database larger than a file may grow here (ulimit -f; a small file system alike): one error line naming the file and the size, nothing left.</summary>
    [RequiresFact(Need.Exe)]
    public void Restore_PastTheFileSizeLimit_FailsNamingTheFileAndItsSize_LeavesNothing()
    {
        (string dir, string replica) = Replicated(300);
        uint commit = LtxFileBuilder.Decode(File.ReadAllBytes(Path.Combine(replica, FirstSnapshot))).Header.Commit;
        string output = Path.Combine(dir, "out.db");
        // 200 blocks of 512 bytes: a third of the database.
        ProcessResult limited = Processes.Run("bash", ["-c", $"ulimit -f 200; exec \"$0\" restore -o \"$1\" \"$2\"", Exe.Path!, output, "file://" + replica]);
        (int code, string stderr) = (limited.ExitCode, limited.Output);
        Assert.True(code == 1, $"exit {code}: {stderr}");
        Assert.StartsWith(
            $"error: {FirstSnapshot}: a database of {commit} pages of 4096 bytes is larger than {output}.tmp may grow (the file system's or the process's file size limit)\n",
            stderr);
        Assert.Empty(Leftovers(dir, output));
    }

    [RequiresFact(Need.Exe)]
    public void Restore_FifoNamedLikeAnLtxFile_RefusedWithinSeconds()
    {
        (string dir, string replica, string fifo) = ReplicatedTwice();
        File.Delete(fifo);
        Assert.Equal(0, Processes.Run("mkfifo", [fifo]).ExitCode);

        string output = Path.Combine(dir, "out.db");
        using BackgroundProcess restore = Exe.Start("restore", "-o", output, "file://" + replica);
        int? exit = restore.WaitForExit(TimeSpan.FromMinutes(2));
        if (exit is null)
        {
            restore.Kill();
            Assert.Fail("restore hung on a fifo in the replica");
        }
        Assert.Equal(1, exit);
        Assert.Contains($"error: {fifo} is a fifo, not a regular file: refusing to read it", restore.Output);
        Assert.Empty(Leftovers(dir, output));

        ProcessResult listing = Exe.Run("ltx", "file://" + replica);
        Assert.Equal(1, listing.ExitCode);
        Assert.StartsWith($"error: {fifo} is a fifo, not a regular file", listing.Stderr);
    }
}
