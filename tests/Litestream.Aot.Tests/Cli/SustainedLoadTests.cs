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
[Requires(Need.Python)]
public class SustainedLoadTests(ITestOutputHelper output)
{
    [RequiresFact(Need.Exe)]
    public void SustainedWrites_Quick_NoBusyWalBoundedCheckpointsHappen() => Load(Seconds(30));

    [RequiresFact(Need.Exe, Need.LongMode)]
    public void SustainedWrites_TenMinutes_NoBusyWalBoundedCheckpointsHappen() => Load(Seconds(600));

    private static int Seconds(int defaultSeconds) =>
        int.TryParse(Environment.GetEnvironmentVariable("LITESTREAM_LOAD_SECONDS"), out int s) ? s : defaultSeconds;

    private void Load(int seconds)
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        string url = $"file://{dir}/replica";
        SqliteWriter.Write(db, 0); // the database in WAL mode, empty
        using BackgroundProcess replicate = Exe.Start("replicate", "-log-level", "debug", db, url);
        // As fast as it can: a commit every half millisecond, every thousandth also deleting the oldest 500 rows;
        // a commit that fails busy is counted (the summary's second field), not fatal.
        using BackgroundProcess writer = SqliteWriter.Start(db, new Workload
        {
            Seconds = seconds,
            Sizes = "1000,1500,2000,2500,2999",
            Pause = 0.0005,
            Prune = "id IN (SELECT id FROM t ORDER BY id LIMIT 500)",
            PruneEvery = 1000,
            TolerateBusy = true,
        });
        long maxWal = 0;
        string wal = db + "-wal";
        while (!writer.HasExited)
        {
            Thread.Sleep(200); // the sampling period, not a wait for something
            // SQLite reuses the WAL file from its start after a checkpoint rather than truncating it, so its
            // size is the high-water mark: bounded means checkpoints keep the writer wrapping around.
            maxWal = Math.Max(maxWal, File.Exists(wal) ? new FileInfo(wal).Length : 0);
            Assert.False(replicate.HasExited, $"replicate exited under load:\n{replicate.Output}");
        }
        string[] result = writer.WaitForSuccess(TimeSpan.FromMinutes(2)).Trim().Split('\n')[^1].Split(' ');
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
        ProcessResult r = Exe.Run("restore", "-o", restored, url);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(SqliteWriter.Dump(db), SqliteWriter.Dump(restored));
    }
}
