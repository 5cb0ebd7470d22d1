using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace Litestream.Testing;

/// <summary>
/// A program running beside the test (replicate, a writer, an emulator) whose stdout and stderr lines are
/// collected as they arrive. Disposing kills it if it is still running.
/// </summary>
public sealed partial class BackgroundProcess : IDisposable
{
    private const int SigTerm = 15;

    private readonly Process _process;
    private readonly StringBuilder _output = new();

    public BackgroundProcess(string file, IEnumerable<string> args, IDictionary<string, string?>? env = null)
    {
        Name = System.IO.Path.GetFileName(file);
        _process = Process.Start(Processes.StartInfo(file, args, env))!;
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>The program's file name, for messages.</summary>
    public string Name { get; }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>Called with every output line as it arrives, on the reader thread (the crash soak kills from here).</summary>
    public Action<string>? OnLine { get; set; }

    /// <summary>Every line printed so far.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>SIGKILL at once, then (unless called from <see cref="OnLine"/>: <paramref name="wait"/> false) wait for the output to drain.</summary>
    public void Kill(bool wait = true)
    {
        try
        {
            _process.Kill();
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }
        if (wait)
        {
            _process.WaitForExit();
        }
    }

    /// <summary>SIGTERM, then wait (at most <paramref name="limit"/>, default 2 minutes) for the exit; returns the exit code.</summary>
    public int Stop(TimeSpan? limit = null)
    {
        if (!_process.HasExited)
        {
            _ = Kill(_process.Id, SigTerm);
        }
        return WaitForExitOrKill(limit ?? TimeSpan.FromMinutes(2), "of SIGTERM");
    }

    /// <summary>Waits (at most <paramref name="limit"/>) for the program to end on its own; fails the test unless it exits 0; returns its output.</summary>
    public string WaitForSuccess(TimeSpan limit)
    {
        int code = WaitForExitOrKill(limit, "of its start");
        Assert.True(code == 0, $"{Name} failed ({code}): {Output}");
        return Output;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }
        _process.Dispose();
    }

    /// <summary>Waits up to <paramref name="limit"/> for the program to end on its own: its exit code, or null while it still runs.</summary>
    public int? WaitForExit(TimeSpan limit)
    {
        if (!_process.WaitForExit(limit))
        {
            return null;
        }
        _process.WaitForExit(); // the output readers drain
        return _process.ExitCode;
    }

    private int WaitForExitOrKill(TimeSpan limit, string since)
    {
        if (!_process.WaitForExit(limit))
        {
            _process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{Name} did not exit within {limit.TotalSeconds:0} s {since}; its output:\n{Output}");
        }
        _process.WaitForExit(); // the output readers drain
        return _process.ExitCode;
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
            OnLine?.Invoke(line);
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
