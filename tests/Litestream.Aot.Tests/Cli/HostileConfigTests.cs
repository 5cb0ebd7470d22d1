using System.Diagnostics;
using System.Runtime.InteropServices;
using Litestream.Aot.Tests.Config;

namespace Litestream.Aot.Tests.Cli;

/// <summary>
/// Hostile config files through the published exe (issue 17, items 11 and 12): an alias bomb, deep nesting and an
/// oversized file or pipe each end with one <c>error:</c> line, a hint and exit 1 within seconds (the bomb used to
/// reach 23 GB, 60 000 brackets to crash with SIGSEGV); and a signal while the config is being read ends the process
/// at once (it used to be swallowed while a silent stdin was read).
/// </summary>
public class HostileConfigTests
{
    private const string Hint = "hint: fix the config file; see https://litestream.io/reference/config/\n";

    // If the bound ever breaks, the exe runs out of this heap instead of the machine's memory.
    private static readonly Dictionary<string, string> s_smallHeap = new() { ["DOTNET_GCHeapHardLimit"] = "0x20000000" };

    [RequiresFact(Need.Exe)]
    public void AliasBomb_OneErrorWithinSeconds()
    {
        string config = Write(ConfigYamlReaderTests.AliasBomb(9));
        ProcessResult r = Exe.RunWithin(TimeSpan.FromMinutes(1), s_smallHeap, "databases", "-config", config);
        Assert.Equal((1, "", "error: invalid yaml at line 10: aliases expand the document past 100000 nodes\n" + Hint), (r.ExitCode, r.Stdout, r.Stderr));
    }

    [RequiresFact(Need.Exe)]
    public void DeepNesting_OneErrorWithinSeconds()
    {
        string config = Write(ConfigYamlReaderTests.DeepNesting(60_000));
        ProcessResult r = Exe.RunWithin(TimeSpan.FromMinutes(1), s_smallHeap, "databases", "-config", config);
        Assert.Equal((1, "", "error: invalid yaml at line 1: nested deeper than 64 levels\n" + Hint), (r.ExitCode, r.Stdout, r.Stderr));
    }

    [RequiresFact(Need.Exe)]
    public void OversizedConfig_FileAndStdin_Refused()
    {
        string text = "dbs: []\n" + string.Concat(Enumerable.Repeat("# padding padding padding padding padding padding padding\n", 40_000));
        string config = Write(text);
        ProcessResult file = Exe.RunWithin(TimeSpan.FromMinutes(1), null, "databases", "-config", config);
        Assert.Equal((1, $"error: {config} is larger than 1024 KiB\n" + Hint), (file.ExitCode, file.Stderr));
        ProcessResult stdin = Exe.RunWithInput(text, "databases", "-config", "-");
        Assert.Equal((1, "error: the config on standard input is larger than 1024 KiB\n" + Hint), (stdin.ExitCode, stdin.Stderr));
    }

    [RequiresTheory(Need.Exe)]
    [InlineData("INT", 130, "SIGINT")]
    [InlineData("TERM", 143, "SIGTERM")]
    public void SignalWhileReadingTheConfig_ExitsAtOnce(string signal, int code, string name)
    {
        var psi = new ProcessStartInfo(Exe.Path!) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in (string[])["databases", "-config", "-"])
        {
            psi.ArgumentList.Add(arg);
        }
        using Process p = Process.Start(psi)!;
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        try
        {
            // Part of a config, then silence with the pipe still open: the exe is blocked reading it.
            p.StandardInput.Write("dbs:\n");
            p.StandardInput.Flush();
            Wait.Until(() => !p.HasExited ? ReadingStdin(p.Id) : throw new Xunit.Sdk.XunitException($"the exe exited before blocking on stdin: {stderr.Result}"),
                "the exe to block reading stdin");
            var clock = Stopwatch.StartNew();
            Process.Start("kill", [$"-{signal}", p.Id.ToString()])!.WaitForExit();
            Assert.True(p.WaitForExit(120_000), $"SIG{signal} was ignored while the config was being read");
            Assert.Equal((code, $"error: interrupted by {name} while reading the config\n"), (p.ExitCode, stderr.Result));
            // At once, not after a stdin that never ends (a busy machine may take seconds to schedule it).
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"exit took {clock.Elapsed}");
        }
        finally
        {
            if (!p.HasExited)
            {
                p.Kill();
            }
        }
    }

    /// <summary>
    /// True when a thread of <paramref name="pid"/> is blocked reading its standard input (.NET reads a duplicate of
    /// fd 0): /proc/PID/task/TID/syscall is "read, fd, …", and that fd is the pipe fd 0 is.
    /// </summary>
    private static bool ReadingStdin(int pid)
    {
        string read = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? "63" : "0";
        try
        {
            string stdin = new FileInfo($"/proc/{pid}/fd/0").LinkTarget!;
            foreach (string task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
            {
                string[] call = File.ReadAllText(Path.Combine(task, "syscall")).Split(' ');
                if (call.Length > 1 && call[0] == read
                    && new FileInfo($"/proc/{pid}/fd/{Convert.ToInt32(call[1], 16)}").LinkTarget == stdin)
                {
                    return true;
                }
            }
            return false;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false; // a thread or a descriptor went away meanwhile
        }
    }

    private static string Write(string text)
    {
        string path = Path.Combine(TestRepo.TempDir(), "litestream.yml");
        File.WriteAllText(path, text);
        return path;
    }
}
