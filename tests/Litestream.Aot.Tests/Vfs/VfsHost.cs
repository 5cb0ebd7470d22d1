namespace Litestream.Aot.Tests.Vfs;

/// <summary>The published litestream-vfs.so and the processes (sqlite3 CLI, python3) that load it.</summary>
internal static class VfsHost
{
    public static string SoPath => TestRepo.Path("bin", "linux-x64", "litestream-vfs.so");

    /// <summary>Python prelude: loads the extension once (it stays loaded) and defines open_replica(name, url).</summary>
    public static string PythonPrelude => $$"""
        import sqlite3, sys, time, os
        _boot = sqlite3.connect(":memory:")
        _boot.enable_load_extension(True)
        _boot.load_extension({{Testing.Python.Literal(SoPath)}})
        def open_replica(url, name="app.db"):
            return sqlite3.connect("file:%s?vfs=litestream&replica=%s" % (name, url), uri=True, isolation_level=None)

        """;

    /// <summary>Runs a process to completion (2 min limit) with optional extra environment.</summary>
    public static ProcessResult Run(string file, IEnumerable<string> args, IDictionary<string, string?>? env = null) => Processes.Run(file, args, env: env);

    /// <summary>The sqlite3 CLI with the extension loaded, opening <paramref name="uri"/>, then running each command.</summary>
    public static ProcessResult Sqlite3(string uri, params string[] commands)
        => Run("sqlite3", [":memory:", $".load {SoPath}", $".open {uri}", .. commands]);

    /// <summary>python3 running <see cref="PythonPrelude"/> + <paramref name="script"/>; asserts success and returns stdout.</summary>
    public static string Python(string script, params string[] args)
        => Processes.RunOk(Prerequisites.ExtensionPython!, ["-c", PythonPrelude + script, .. args]);
}
