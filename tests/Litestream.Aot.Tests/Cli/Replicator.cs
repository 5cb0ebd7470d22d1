namespace Litestream.Aot.Tests.Cli;

/// <summary>
/// <c>replicate -config</c> of the published exe for one database, with its control socket on, so a test waits for
/// the replica to catch up (<see cref="CaughtUp"/>: <c>sync -wait</c>, which answers once the replica holds every
/// transaction the database has) instead of sleeping and hoping the machine was quick enough.
/// </summary>
internal sealed class Replicator : IDisposable
{
    /// <summary>Writes the config beside <paramref name="db"/> (<paramref name="replicaYaml"/>: the lines under <c>replica:</c>) and starts replicate.</summary>
    public Replicator(string db, string replicaYaml, IDictionary<string, string>? env = null)
    {
        string dir = Path.GetDirectoryName(db)!;
        string name = Guid.NewGuid().ToString("N")[..8];
        Socket = Path.Combine(dir, $"ls-{name}.sock");
        Database = db;
        Config = Path.Combine(dir, $"litestream-{name}.yml");
        string replica = string.Join('\n', replicaYaml.Trim().Split('\n').Select(l => "      " + l.Trim()));
        File.WriteAllText(Config, $"socket: {{enabled: true, path: {Socket}}}\ndbs:\n  - path: {db}\n    replica:\n{replica}\n");
        Process = Exe.Start(env, "replicate", "-config", Config);
    }

    /// <summary>A replicator of <paramref name="db"/> to the replica at <paramref name="url"/>.</summary>
    public static Replicator ToUrl(string db, string url, IDictionary<string, string>? env = null) => new(db, $"url: {url}", env);

    public string Database { get; }

    public string Config { get; }

    public string Socket { get; }

    public BackgroundProcess Process { get; }

    public string Output => Process.Output;

    /// <summary>
    /// Returns once the replica holds every transaction the database has now (retried while replicate is still opening
    /// it); fails when replicate exits first or the replica does not catch up within the ceiling.
    /// </summary>
    public void CaughtUp()
        => Wait.For(() => Exe.Run("sync", "-wait", "-timeout", "60", "-socket", Socket, Database) is { ExitCode: 0 } r ? r : null,
            $"the replica of {Database} to hold every transaction (sync -wait)", Process);

    /// <summary>SIGTERM: the final sync, then the exit code.</summary>
    public int Stop() => Process.Stop();

    public void Dispose() => Process.Dispose();
}
