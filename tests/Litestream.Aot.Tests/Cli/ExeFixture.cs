namespace Litestream.Aot.Tests.Cli;

/// <summary>Runs the published exe (bin/linux-x64/litestream; tests that do declare <see cref="Need.Exe"/>).</summary>
internal static class Exe
{
    /// <summary>The published exe (null when it is not published).</summary>
    public static string? Path => TestRepo.Exe;

    public static ProcessResult Run(params string[] args) => Run(null, args);

    public static ProcessResult Run(IDictionary<string, string>? env, params string[] args) => Run(env, null, args, Processes.DefaultLimit);

    /// <summary>Runs the exe with <paramref name="stdin"/> piped to it.</summary>
    public static ProcessResult RunWithInput(string stdin, params string[] args) => Run(null, stdin, args, Processes.DefaultLimit);

    /// <summary>Runs the exe, killing it and failing the test when it has not exited within <paramref name="limit"/>.</summary>
    public static ProcessResult RunWithin(TimeSpan limit, IDictionary<string, string>? env, params string[] args) => Run(env, null, args, limit);

    private static ProcessResult Run(IDictionary<string, string>? env, string? stdin, string[] args, TimeSpan limit)
        => Processes.Run(TestRepo.Exe!, args, limit, env?.ToDictionary(e => e.Key, e => (string?)e.Value), stdin);

    /// <summary>Starts a long-running command (replicate) with its output collected.</summary>
    public static BackgroundProcess Start(params string[] args) => Start(null, args);

    /// <summary>
    /// Starts a long-running command as a program started with <paramref name="signal"/> ignored (<c>nohup cmd &amp;</c>,
    /// a backgrounded CI job): python3 sets SIG_IGN and execs the exe, which keeps its pid.
    /// </summary>
    public static BackgroundProcess StartIgnoring(string signal, params string[] args)
        => new(Testing.Python.Executable,
            ["-c", $"import os, signal, sys; signal.signal(signal.SIG{signal}, signal.SIG_IGN); os.execv(sys.argv[1], sys.argv[1:])", TestRepo.Exe!, .. args]);

    /// <summary>Starts a long-running command with extra environment variables.</summary>
    public static BackgroundProcess Start(IDictionary<string, string>? env, params string[] args)
        => new(TestRepo.Exe!, args, env?.ToDictionary(e => e.Key, e => (string?)e.Value));
}
