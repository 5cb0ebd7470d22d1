namespace Litestream.Testing;

/// <summary>A tmpfs of a fixed size mounted for one test, unmounted (lazily) afterwards.</summary>
public sealed class Tmpfs : IDisposable
{
    public Tmpfs(string path, string size)
    {
        Path = path;
        Directory.CreateDirectory(path);
        ProcessResult r = Processes.Run("mount", ["-t", "tmpfs", "-o", $"size={size}", "tmpfs", path]);
        Assert.True(r.ExitCode == 0, $"mount failed: {r.Output}");
    }

    public string Path { get; }

    /// <summary>Whether this process may mount a tmpfs (root, and mount permitted): probed once.</summary>
    public static bool CanMount => s_canMount.Value;

    private static readonly Lazy<bool> s_canMount = new(Probe);

    public void Dispose() => Processes.Run("umount", ["-l", Path]);

    /// <summary>Remounts read-only (every write fails with EROFS) or back read-write.</summary>
    public void SetReadOnly(bool readOnly)
    {
        // A remount to read-only fails with EBUSY while a file on it is open for writing (an upload in flight).
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (Processes.Run("mount", ["-o", readOnly ? "remount,ro" : "remount,rw", Path]) is { ExitCode: not 0 } failed)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromMinutes(2), $"remount of {Path} failed: {failed.Output}");
            Thread.Sleep(100);
        }
    }

    private static bool Probe()
    {
        if (Environment.UserName != "root")
        {
            return false;
        }
        string dir = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "litestream-tmpfs-probe-" + Environment.ProcessId);
        Directory.CreateDirectory(dir);
        if (Processes.Run("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", dir]).ExitCode != 0)
        {
            return false;
        }
        Processes.Run("umount", [dir]);
        Directory.Delete(dir);
        return true;
    }
}
