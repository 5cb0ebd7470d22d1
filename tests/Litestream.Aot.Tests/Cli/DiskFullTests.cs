using System.Diagnostics;
using System.Text.Json;

namespace Litestream.Aot.Tests.Cli;

/// <summary>
/// Disk full (ENOSPC) on a real, small file system: a 2 MB tmpfs mounted for the test (CI runs as root;
/// the tests skip, saying why, where mounting is not permitted). The replica side and the meta directory
/// each run out of space while the application keeps writing: replicate logs the error, `status` shows
/// it, retries with a doubling backoff, never exits and never blocks the writer; once space is freed it
/// resumes and the restore holds every committed row. A restore onto a full disk fails with one error
/// line and a hint, and leaves nothing behind.
/// </summary>
[Requires(Need.Python)]
public class DiskFullTests
{
    /// <summary>The application commits <paramref name="rows"/> rows of 2000 random bytes, one per commit.</summary>
    private static void Write(string db, int rows) => SqliteWriter.Write(db, new Workload { Commits = rows, Sizes = "2000" });

    // Writes 64 KB blocks until the file system refuses with ENOSPC; prints the bytes written.
    private const string Fill = """
        import errno, os, sys
        n = 0
        with open(sys.argv[1], "wb", buffering=0) as f:
            try:
                while True:
                    n += f.write(b"\0" * 65536)
            except OSError as e:
                assert e.errno == errno.ENOSPC, e
        try:
            with open(sys.argv[1] + ".small", "wb", buffering=0) as f:
                while True:
                    n += f.write(b"\0" * 512)
        except OSError as e:
            assert e.errno == errno.ENOSPC, e
        print(n)
        """;

    [RequiresFact(Need.Exe, Need.Tmpfs)]
    public void ReplicaDiskFull_ErrorReportedWritesContinueAndResumeLosesNothing()
    {
        string dir = TestRepo.TempDir();
        using var mount = new Tmpfs(Path.Combine(dir, "mnt"), "2m");
        string db = Path.Combine(dir, "app.db");
        string replica = Path.Combine(mount.Path, "replica");
        string config = WriteConfig(dir, db, $"file://{replica}", metaPath: null);
        FillReportFreeResume(dir, mount, db, replica, config, "replica file://" + replica, "upload failing since ", "recovered after",
            whileFull: () => Assert.Empty(Directory.EnumerateFiles(replica, "*.tmp", SearchOption.AllDirectories)));
    }

    [RequiresFact(Need.Exe, Need.Tmpfs)]
    public void MetaDirDiskFull_ErrorReportedWritesContinueAndResumeLosesNothing()
    {
        string dir = TestRepo.TempDir();
        using var mount = new Tmpfs(Path.Combine(dir, "mnt"), "2m");
        string db = Path.Combine(dir, "app.db");
        string replica = Path.Combine(dir, "replica");
        string config = WriteConfig(dir, db, $"file://{replica}", metaPath: Path.Combine(mount.Path, "meta"));
        FillReportFreeResume(dir, mount, db, replica, config, "sync " + db, "sync failing since ", $"sync {db} recovered after", whileFull: null);
    }

    /// <summary>
    /// Replicates until the first upload, fills <paramref name="mount"/>, and checks the failure of
    /// <paramref name="failing"/> is logged with backoff and shown by status (<paramref name="statusPrefix"/>) while
    /// the app keeps writing; then frees the space and checks <paramref name="recovered"/>, status ok and a
    /// restore with every row.
    /// </summary>
    private static void FillReportFreeResume(string dir, Tmpfs mount, string db, string replica, string config,
        string failing, string statusPrefix, string recovered, Action? whileFull)
    {
        Write(db, 20);
        using BackgroundProcess replicate = Exe.Start("replicate", "-config", config);
        Wait.Until(() => FileReplica.L0Files(replica).Length > 0, "the first upload", replicate);

        string filler = Path.Combine(mount.Path, "filler");
        Python.Run(Fill, filler);
        AssertWriterUnhurt(db, 300);
        WaitForBackoff(replicate, failing);
        AssertStatusError(config, db, statusPrefix);
        whileFull?.Invoke();

        File.Delete(filler);
        File.Delete(filler + ".small");
        Wait.Until(() => replicate.Output.Contains(recovered, StringComparison.Ordinal), "recovery once space is freed", replicate);
        Wait.Until(() => StatusRow(config, db).GetProperty("status").GetString() == "ok", "status ok again", replicate);
        AssertRestoreHasEverything(dir, db, replicate, $"file://{replica}");
    }

    [RequiresFact(Need.Exe, Need.Tmpfs)]
    public void RestoreOntoFullDisk_OneErrorLineWithHintAndNothingLeft()
    {
        string dir = TestRepo.TempDir();
        using var mount = new Tmpfs(Path.Combine(dir, "mnt"), "2m");
        string db = Path.Combine(dir, "app.db");
        Write(db, 1500); // ~3.5 MB: larger than the whole file system
        ProcessResult once = Exe.Run("replicate", "-once", db, $"file://{dir}/replica");
        Assert.True(once.ExitCode == 0, once.Stderr);

        ProcessResult r = Exe.Run("restore", "-o", Path.Combine(mount.Path, "out.db"), $"file://{dir}/replica");
        Assert.Equal(1, r.ExitCode);
        string[] lines = r.Stderr.TrimEnd('\n').Split('\n');
        Assert.Equal(2, lines.Length);
        Assert.StartsWith("error: ", lines[0]);
        Assert.Contains("No space left on device", lines[0]);
        Assert.Equal("hint: free disk space and try again", lines[1]);
        Assert.Empty(Directory.EnumerateFileSystemEntries(mount.Path));
    }

    private static string WriteConfig(string dir, string db, string url, string? metaPath)
    {
        string config = Path.Combine(dir, "litestream.yml");
        string meta = metaPath is null ? "" : $"    meta-path: {metaPath}\n";
        File.WriteAllText(config, $"dbs:\n  - path: {db}\n{meta}    replica:\n      url: {url}\n");
        return config;
    }

    /// <summary>The application's 300 commits finish, each well inside its busy timeout, while replication cannot write.</summary>
    private static void AssertWriterUnhurt(string db, int rows)
    {
        var watch = Stopwatch.StartNew();
        Write(db, rows);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(60), $"{rows} commits took {watch.Elapsed}");
    }

    /// <summary>At least three failures, logged with the retry delay doubling (1 s, 2 s, 4 s), and the process still running.</summary>
    private static void WaitForBackoff(BackgroundProcess replicate, string what)
    {
        Wait.Until(() => replicate.Output.Contains("retrying in 4s)", StringComparison.Ordinal), "three failures with backoff", replicate);
        string[] failures = [.. replicate.Output.Split('\n').Where(l => l.Contains("level=ERROR", StringComparison.Ordinal))];
        Assert.Contains(failures, l => l.Contains(what, StringComparison.Ordinal) && l.Contains("No space left on device", StringComparison.Ordinal));
        foreach (string delay in new[] { "1s", "2s", "4s" })
        {
            Assert.Contains(failures, l => l.Contains($"retrying in {delay})", StringComparison.Ordinal));
        }
        Assert.False(replicate.HasExited);
    }

    private static void AssertStatusError(string config, string db, string expected)
    {
        JsonElement row = StatusRow(config, db);
        Assert.Equal("error", row.GetProperty("status").GetString());
        string error = row.GetProperty("error").GetString()!;
        Assert.StartsWith(expected, error);
        Assert.Contains("No space left on device", error);
        ProcessResult text = Exe.Run("status", "-config", config);
        Assert.Matches($"(?m)^{db} +error ", text.Stdout);
        Assert.Contains($"{db}: {expected}", text.Stdout);
    }

    private static JsonElement StatusRow(string config, string db)
    {
        ProcessResult r = Exe.Run("status", "-json", "-config", config, db);
        Assert.True(r.ExitCode == 0, r.Stderr);
        return JsonDocument.Parse(r.Stdout).RootElement[0];
    }

    private static void AssertRestoreHasEverything(string dir, string db, BackgroundProcess replicate, string url)
    {
        Write(db, 20);
        Assert.Equal(0, replicate.Stop());
        string output = Path.Combine(dir, "out.db");
        ProcessResult r = Exe.Run("restore", "-o", output, url);
        Assert.True(r.ExitCode == 0, r.Stderr);
        string expected = SqliteWriter.Dump(db);
        Assert.StartsWith("ok 340 ", expected);
        Assert.Equal(expected, SqliteWriter.Dump(output));
    }
}
