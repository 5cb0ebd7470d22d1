using System.Diagnostics;
using System.Text;
using Litestream.Aot.Tests.Cli;

namespace Litestream.Aot.Tests.Vfs;

/// <summary>The published litestream-vfs.so and the processes (sqlite3 CLI, python3) that load it.</summary>
internal static class VfsHost
{
    public static string? SoPath { get; } = Exe.RepoRoot is { } root && File.Exists(Path.Combine(root, "bin", "linux-x64", "litestream-vfs.so"))
        ? Path.Combine(root, "bin", "linux-x64", "litestream-vfs.so")
        : null;

    /// <summary>A python3 whose sqlite3 module can load extensions (pyenv builds often cannot; Debian's can).</summary>
    public static string? PythonExe { get; } = new[] { "/usr/bin/python3", "python3" }.FirstOrDefault(CanLoadExtensions);

    private static bool CanLoadExtensions(string python)
    {
        try
        {
            Result r = Run(python, ["-c", "import sqlite3, sys; sys.exit(0 if hasattr(sqlite3.Connection, 'enable_load_extension') else 1)"]);
            return r.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }

    public const string Missing = "bin/linux-x64/litestream-vfs.so or litestream is not published (run ./publish.sh)";

    /// <summary>Python prelude: loads the extension once (it stays loaded) and defines open_replica(name, url).</summary>
    public static string PythonPrelude => $$"""
        import sqlite3, sys, time, os
        _boot = sqlite3.connect(":memory:")
        _boot.enable_load_extension(True)
        _boot.load_extension({{Quote(SoPath!)}})
        def open_replica(url, name="app.db"):
            return sqlite3.connect("file:%s?vfs=litestream&replica=%s" % (name, url), uri=True, isolation_level=None)

        """;

    private static string Quote(string s) => "'" + s.Replace("\\", "\\\\").Replace("'", "\\'") + "'";

    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    /// <summary>Runs a process to completion (2 min limit) with optional extra environment.</summary>
    public static Result Run(string file, IEnumerable<string> args, IDictionary<string, string>? env = null)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }
        foreach ((string k, string v) in env ?? new Dictionary<string, string>())
        {
            psi.Environment[k] = v;
        }
        using Process p = Process.Start(psi)!;
        p.StandardInput.Close();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(120_000))
        {
            p.Kill(true);
            throw new TimeoutException($"{file} did not finish");
        }
        return new Result(p.ExitCode, stdout, stderr.Result);
    }

    /// <summary>The sqlite3 CLI with the extension loaded, opening <paramref name="uri"/>, then running each command.</summary>
    public static Result Sqlite3(string uri, params string[] commands)
        => Run("sqlite3", [":memory:", $".load {SoPath}", $".open {uri}", .. commands]);

    /// <summary>python3 running <see cref="PythonPrelude"/> + <paramref name="script"/>; asserts success and returns stdout.</summary>
    public static string Python(string script, params string[] args)
    {
        Result r = Run(PythonExe!, ["-c", PythonPrelude + script, .. args]);
        Assert.True(r.ExitCode == 0, $"python3 failed ({r.ExitCode}): {r.Stderr}\n{r.Stdout}");
        return r.Stdout;
    }

    /// <summary>A background process (a writer) whose output is collected.</summary>
    public sealed class Background : IDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _output = new();

        public Background(string file, params string[] args)
        {
            var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (string a in args)
            {
                psi.ArgumentList.Add(a);
            }
            _process = Process.Start(psi)!;
            _process.OutputDataReceived += (_, e) => Append(e.Data);
            _process.ErrorDataReceived += (_, e) => Append(e.Data);
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
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

        /// <summary>Waits for a normal exit and returns the output; fails the test on a non-zero exit.</summary>
        public string WaitForSuccess(TimeSpan timeout)
        {
            Assert.True(_process.WaitForExit(timeout), "background process did not finish");
            _process.WaitForExit();
            Assert.True(_process.ExitCode == 0, $"background process failed ({_process.ExitCode}): {Output}");
            return Output;
        }

        public void Dispose()
        {
            if (!_process.HasExited)
            {
                _process.Kill(true);
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
            }
        }
    }

    /// <summary>Waits for a condition with a generous limit (the CI machine is loaded); fails with <paramref name="what"/>.</summary>
    public static void WaitFor(Func<bool> condition, string what, int seconds = 90)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(seconds), $"timed out waiting for {what}");
            Thread.Sleep(200);
        }
    }

    /// <summary>Highest MaxTxid among the replica's L0 files (0 when none).</summary>
    public static ulong NewestL0Txid(string replicaDir)
    {
        string dir = Path.Combine(replicaDir, "ltx", "0");
        if (!Directory.Exists(dir))
        {
            return 0;
        }
        ulong max = 0;
        foreach (string f in Directory.GetFiles(dir, "*.ltx"))
        {
            string name = Path.GetFileNameWithoutExtension(f);
            max = Math.Max(max, Convert.ToUInt64(name[(name.IndexOf('-') + 1)..], 16));
        }
        return max;
    }
}

/// <summary>A fact that needs the published exe and litestream-vfs.so.</summary>
public sealed class VfsFactAttribute : FactAttribute
{
    public VfsFactAttribute()
    {
        if (Exe.Path is null || VfsHost.SoPath is null)
        {
            Skip = VfsHost.Missing;
        }
        else if (VfsHost.PythonExe is null)
        {
            Skip = "no python3 whose sqlite3 module can load extensions (.ci/install.sh installs Debian's python3)";
        }
    }
}
