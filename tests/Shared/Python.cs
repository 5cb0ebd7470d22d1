using System.Diagnostics;

namespace Litestream.Testing;

/// <summary>python3 running a script given inline (<c>python3 -c</c>): checks of databases the tests wrote, and the reference tools.</summary>
public static class Python
{
    /// <summary>How long a script may run unless told otherwise: generous, so a busy machine never fails a test, but a hang does.</summary>
    public static readonly TimeSpan DefaultLimit = TimeSpan.FromMinutes(15);

    /// <summary>
    /// The interpreter python3 on PATH runs, resolved once: a pyenv shim in front of it costs up to two seconds
    /// per start on a busy machine, and the tests start python hundreds of times.
    /// </summary>
    public static string Executable => s_executable.Value;

    private static readonly Lazy<string> s_executable = new(() =>
        Processes.Run("python3", ["-c", "import sys; print(sys.executable)"]) is { ExitCode: 0, Stdout: var path } && File.Exists(path.Trim()) ? path.Trim() : "python3");

    /// <summary>Runs <paramref name="script"/> with <paramref name="args"/>; fails the test unless it exits 0; returns stdout.</summary>
    public static string Run(string script, params string[] args) => Processes.RunOk(Executable, ["-c", script, .. args], DefaultLimit);

    /// <summary>A Python string literal holding <paramref name="s"/>.</summary>
    public static string Literal(string s) => "'" + s.Replace("\\", "\\\\").Replace("'", "\\'") + "'";

    /// <summary>Starts <paramref name="script"/> in the background with its output redirected (the caller reads or drains it).</summary>
    public static Process Start(string script, params string[] args) => Process.Start(Processes.StartInfo(Executable, ["-c", script, .. args]))!;
}
