using System.Diagnostics;
using System.Text;

namespace Litestream.Aot.Tests.Cli;

/// <summary>Locates the published exe (bin/linux-x64/litestream) and runs it; tests skip when it is absent.</summary>
internal static class Exe
{
    public static string? RepoRoot { get; } = FindRepoRoot();

    public static string? Path { get; } = RepoRoot is { } root && File.Exists(System.IO.Path.Combine(root, "bin", "linux-x64", "litestream"))
        ? System.IO.Path.Combine(root, "bin", "linux-x64", "litestream")
        : null;

    public static string? Spec { get; } = RepoRoot is { } r && Directory.Exists(System.IO.Path.Combine(r, "..", "shared", "spec"))
        ? System.IO.Path.GetFullPath(System.IO.Path.Combine(r, "..", "shared", "spec"))
        : null;

    public const string Missing = "bin/linux-x64/litestream is not published (run ./publish.sh)";

    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public static Result Run(params string[] args) => Run(null, args);

    public static Result Run(IDictionary<string, string>? env, params string[] args) => Run(env, null, args);

    /// <summary>Runs the exe with <paramref name="stdin"/> piped to it (null: no input, stdin closed at once).</summary>
    public static Result RunWithInput(string stdin, params string[] args) => Run(null, stdin, args);

    /// <summary>Runs the exe, killing it and failing the test when it has not exited within <paramref name="limit"/>.</summary>
    public static Result RunWithin(TimeSpan limit, IDictionary<string, string>? env, params string[] args) => Run(env, null, args, limit);

    private static Result Run(IDictionary<string, string>? env, string? stdin, string[] args) => Run(env, stdin, args, TimeSpan.FromMinutes(2));

    private static Result Run(IDictionary<string, string>? env, string? stdin, string[] args, TimeSpan limit)
    {
        var psi = new ProcessStartInfo(Path!) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }
        if (env is not null)
        {
            foreach ((string k, string v) in env)
            {
                psi.Environment[k] = v;
            }
        }
        using Process p = Process.Start(psi)!;
        try
        {
            if (stdin is not null)
            {
                p.StandardInput.Write(stdin);
            }
            p.StandardInput.Close();
        }
        catch (IOException)
        {
            // The exe stopped reading (an oversized config is refused before its end): its answer still counts.
        }
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        if (!p.WaitForExit(limit))
        {
            p.Kill();
            throw new TimeoutException($"litestream {string.Join(' ', args)} did not finish within {limit.TotalSeconds:0}s");
        }
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Starts a long-running command (replicate) with its output collected.</summary>
    public static Daemon Start(params string[] args) => new(null, args);

    /// <summary>Starts a long-running command with extra environment variables.</summary>
    public static Daemon Start(IDictionary<string, string>? env, params string[] args) => new(env, args);

    public sealed class Daemon : IDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _output = new();

        public Daemon(IDictionary<string, string>? env, string[] args)
        {
            var psi = new ProcessStartInfo(Path!) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (string a in args)
            {
                psi.ArgumentList.Add(a);
            }
            foreach ((string k, string v) in env ?? new Dictionary<string, string>())
            {
                psi.Environment[k] = v;
            }
            _process = Process.Start(psi)!;
            _process.OutputDataReceived += (_, e) => Append(e.Data);
            _process.ErrorDataReceived += (_, e) => Append(e.Data);
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        public int Pid => _process.Id;

        /// <summary>Called with every output line as it arrives, on the reader thread (the crash soak kills from here).</summary>
        public Action<string>? OnLine { get; set; }

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

        public bool HasExited => _process.HasExited;

        /// <summary>Waits up to <paramref name="timeout"/> for the process to end on its own: its exit code, or null while it runs.</summary>
        public int? WaitForExit(TimeSpan timeout)
        {
            if (!_process.WaitForExit(timeout))
            {
                return null;
            }
            _process.WaitForExit(); // drains the output readers
            return _process.ExitCode;
        }

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

        /// <summary>Waits (polling every 100 ms, up to <paramref name="ceiling"/>, 90 s by default) until <paramref name="condition"/> holds; fails with the output if the process exits first.</summary>
        public void WaitUntil(Func<bool> condition, string what, TimeSpan? ceiling = null)
        {
            var clock = Stopwatch.StartNew();
            while (!condition())
            {
                if (HasExited)
                {
                    throw new Xunit.Sdk.XunitException($"replicate exited while waiting for {what}:\n{Output}");
                }
                if (clock.Elapsed > (ceiling ?? TimeSpan.FromSeconds(90)))
                {
                    throw new TimeoutException($"timed out waiting for {what}:\n{Output}");
                }
                Thread.Sleep(100);
            }
        }

        /// <summary>SIGTERM, then wait; returns the exit code.</summary>
        public int Stop()
        {
            if (!_process.HasExited)
            {
                Process.Start("kill", ["-TERM", _process.Id.ToString()])!.WaitForExit();
            }
            if (!_process.WaitForExit(60_000))
            {
                _process.Kill();
                throw new TimeoutException("replicate did not exit within 60 s of SIGTERM");
            }
            _process.WaitForExit();
            return _process.ExitCode;
        }

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                _process.Kill();
            }
            _process.Dispose();
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
    }

    public static string Python(string script, params string[] args)
    {
        using Process p = StartPython(script, args);
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"python3 failed: {stderr.Result}");
        return output;
    }

    /// <summary>Starts python3 with a script and arguments (a writer running beside the exe); output is redirected.</summary>
    public static Process StartPython(string script, params string[] args)
    {
        var psi = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(script);
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }
        return Process.Start(psi)!;
    }

    /// <summary>Runs another program (mount, chroot, a build script) to its end: exit code and stdout + stderr.</summary>
    public static (int Code, string Output) Tool(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using Process p = Process.Start(psi)!;
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout + stderr.Result);
    }

    public static string TempDir()
    {
        string dir = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "litestream-exe-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static string? FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Litestream.slnx")))
            {
                return dir.FullName;
            }
        }
        return null;
    }
}

/// <summary>A fact that skips when the exe is not published.</summary>
public sealed class ExeFactAttribute : FactAttribute
{
    public ExeFactAttribute()
    {
        if (Exe.Path is null)
        {
            Skip = Exe.Missing;
        }
    }
}

/// <summary>A theory that skips when the exe is not published.</summary>
public sealed class ExeTheoryAttribute : TheoryAttribute
{
    public ExeTheoryAttribute()
    {
        if (Exe.Path is null)
        {
            Skip = Exe.Missing;
        }
    }
}

/// <summary>A fact that needs both the published exe and ../shared/spec.</summary>
public sealed class ExeSpecFactAttribute : FactAttribute
{
    public ExeSpecFactAttribute()
    {
        if (Exe.Path is null)
        {
            Skip = Exe.Missing;
        }
        else if (Exe.Spec is null)
        {
            Skip = "../shared/spec is not beside the repository (fixtures are read from there, never copied)";
        }
    }
}
