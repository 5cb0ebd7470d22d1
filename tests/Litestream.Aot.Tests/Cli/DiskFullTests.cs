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
public class DiskFullTests
{
    private const string Writer = """
        import sqlite3, sys
        c = sqlite3.connect(sys.argv[1], isolation_level=None)
        c.execute("PRAGMA busy_timeout=5000")
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v BLOB)")
        for i in range(int(sys.argv[2])):
            c.execute("INSERT INTO t(v) VALUES (randomblob(2000))")
        """;

    private const string Dump = """
        import sqlite3, sys, hashlib
        c = sqlite3.connect(sys.argv[1])
        rows = c.execute("SELECT id, v FROM t ORDER BY id").fetchall()
        print(c.execute("PRAGMA integrity_check").fetchone()[0], len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
        """;

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

    [TmpfsFact]
    public void ReplicaDiskFull_ErrorReportedWritesContinueAndResumeLosesNothing()
    {
        string dir = Exe.TempDir();
        using var mount = new Tmpfs(Path.Combine(dir, "mnt"), "2m");
        string db = Path.Combine(dir, "app.db");
        string replica = Path.Combine(mount.Path, "replica");
        string config = WriteConfig(dir, db, $"file://{replica}", metaPath: null);
        FillReportFreeResume(dir, mount, db, replica, config, "replica file://" + replica, "upload failing since ", "recovered after",
            whileFull: () => Assert.Empty(Directory.EnumerateFiles(replica, "*.tmp", SearchOption.AllDirectories)));
    }

    [TmpfsFact]
    public void MetaDirDiskFull_ErrorReportedWritesContinueAndResumeLosesNothing()
    {
        string dir = Exe.TempDir();
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
        Exe.Python(Writer, db, "20");
        using Exe.Daemon replicate = Exe.Start("replicate", "-config", config);
        WaitFor(() => Directory.Exists(Path.Combine(replica, "ltx", "0")) && Directory.EnumerateFiles(Path.Combine(replica, "ltx", "0")).Any(), replicate, "the first upload");

        string filler = Path.Combine(mount.Path, "filler");
        Exe.Python(Fill, filler);
        AssertWriterUnhurt(db, 300);
        WaitForBackoff(replicate, failing);
        AssertStatusError(config, db, statusPrefix);
        whileFull?.Invoke();

        File.Delete(filler);
        File.Delete(filler + ".small");
        WaitFor(() => replicate.Output.Contains(recovered, StringComparison.Ordinal), replicate, "recovery once space is freed");
        WaitFor(() => StatusRow(config, db).GetProperty("status").GetString() == "ok", replicate, "status ok again");
        AssertRestoreHasEverything(dir, db, replicate, $"file://{replica}");
    }

    [TmpfsFact]
    public void RestoreOntoFullDisk_OneErrorLineWithHintAndNothingLeft()
    {
        string dir = Exe.TempDir();
        using var mount = new Tmpfs(Path.Combine(dir, "mnt"), "2m");
        string db = Path.Combine(dir, "app.db");
        Exe.Python(Writer, db, "1500"); // ~3.5 MB: larger than the whole file system
        Exe.Result once = Exe.Run("replicate", "-once", db, $"file://{dir}/replica");
        Assert.True(once.ExitCode == 0, once.Stderr);

        Exe.Result r = Exe.Run("restore", "-o", Path.Combine(mount.Path, "out.db"), $"file://{dir}/replica");
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
        Exe.Python(Writer, db, rows.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(60), $"{rows} commits took {watch.Elapsed}");
    }

    /// <summary>At least three failures, logged with the retry delay doubling (1 s, 2 s, 4 s), and the process still running.</summary>
    private static void WaitForBackoff(Exe.Daemon replicate, string what)
    {
        WaitFor(() => replicate.Output.Contains("retrying in 00:00:04", StringComparison.Ordinal), replicate, "three failures with backoff");
        string[] failures = [.. replicate.Output.Split('\n').Where(l => l.Contains("level=ERROR", StringComparison.Ordinal))];
        Assert.Contains(failures, l => l.Contains(what, StringComparison.Ordinal) && l.Contains("No space left on device", StringComparison.Ordinal));
        foreach (string delay in new[] { "00:00:01", "00:00:02", "00:00:04" })
        {
            Assert.Contains(failures, l => l.Contains($"retrying in {delay}", StringComparison.Ordinal));
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
        Exe.Result text = Exe.Run("status", "-config", config);
        Assert.Matches($"(?m)^{db} +error ", text.Stdout);
        Assert.Contains($"{db}: {expected}", text.Stdout);
    }

    private static JsonElement StatusRow(string config, string db)
    {
        Exe.Result r = Exe.Run("status", "-json", "-config", config, db);
        Assert.True(r.ExitCode == 0, r.Stderr);
        return JsonDocument.Parse(r.Stdout).RootElement[0];
    }

    private static void AssertRestoreHasEverything(string dir, string db, Exe.Daemon replicate, string url)
    {
        Exe.Python(Writer, db, "20");
        Assert.Equal(0, replicate.Stop());
        string output = Path.Combine(dir, "out.db");
        Exe.Result r = Exe.Run("restore", "-o", output, url);
        Assert.True(r.ExitCode == 0, r.Stderr);
        string expected = Exe.Python(Dump, db);
        Assert.StartsWith("ok 340 ", expected);
        Assert.Equal(expected, Exe.Python(Dump, output));
    }

    private static void WaitFor(Func<bool> condition, Exe.Daemon replicate, string what)
    {
        // Generous: the backoff alone takes 7 s and CI machines are loaded.
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.False(replicate.HasExited, $"replicate exited while waiting for {what}:\n{replicate.Output}");
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(90), $"timed out waiting for {what}:\n{replicate.Output}");
            Thread.Sleep(200);
        }
    }
}

/// <summary>A tmpfs of a fixed size mounted for one test, unmounted (lazily) afterwards.</summary>
internal sealed class Tmpfs : IDisposable
{
    public Tmpfs(string path, string size)
    {
        Path = path;
        Directory.CreateDirectory(path);
        (int code, string output) = Exe.Tool("mount", "-t", "tmpfs", "-o", $"size={size}", "tmpfs", path);
        Assert.True(code == 0, $"mount failed: {output}");
    }

    public string Path { get; }

    /// <summary>Why tmpfs tests cannot run here, or null when mounting works (checked once).</summary>
    public static string? Unavailable { get; } = Probe();

    public void Dispose() => Exe.Tool("umount", "-l", Path);

    /// <summary>Remounts read-only (every write fails with EROFS) or back read-write.</summary>
    public void SetReadOnly(bool readOnly)
    {
        // A remount to read-only fails with EBUSY while a file on it is open for writing (an upload in flight).
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            (int code, string output) = Exe.Tool("mount", "-o", readOnly ? "remount,ro" : "remount,rw", Path);
            if (code == 0)
            {
                return;
            }
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"remount of {Path} failed: {output}");
            Thread.Sleep(100);
        }
    }

    private static string? Probe()
    {
        if (Environment.UserName != "root")
        {
            return "mounting a tmpfs needs root (CI runs as root)";
        }
        string dir = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "litestream-tmpfs-probe-" + Environment.ProcessId);
        Directory.CreateDirectory(dir);
        (int code, string output) = Exe.Tool("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", dir);
        if (code != 0)
        {
            return $"mount -t tmpfs is not permitted here: {output.Trim()}";
        }
        Exe.Tool("umount", dir);
        Directory.Delete(dir);
        return null;
    }
}

/// <summary>A fact that needs the published exe and permission to mount a tmpfs.</summary>
public sealed class TmpfsFactAttribute : FactAttribute
{
    public TmpfsFactAttribute()
    {
        if (Exe.Path is null)
        {
            Skip = Exe.Missing;
        }
        else if (Tmpfs.Unavailable is { } reason)
        {
            Skip = reason;
        }
    }
}
