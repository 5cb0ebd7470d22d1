namespace Litestream.Aot.Tests.Cli;

/// <summary>
/// Interop with the upstream Go binary this machine can get (v0.3.13, fetched by .ci/upstream.sh): it
/// replicates a live database to a file replica in its v0.3 generations layout, and our exe restores it.
/// </summary>
public class InteropTests
{
    private static readonly string? s_upstream = Exe.RepoRoot is { } root && File.Exists(Path.Combine(root, ".tools", "upstream", "package", "litestream"))
        ? Path.Combine(root, ".tools", "upstream", "package", "litestream")
        : null;

    private const string Writer = """
        import sqlite3, sys, time
        c = sqlite3.connect(sys.argv[1], isolation_level=None)
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v TEXT)")
        for b in range(int(sys.argv[2])):
            for i in range(200):
                c.execute("INSERT INTO t(v) VALUES (?)", ("r%d-%d" % (b, i) + "z" * (i * 13 % 700),))
            if b == 1:
                c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            time.sleep(0.3)
        """;

    private const string Dump = """
        import sqlite3, sys, hashlib
        c = sqlite3.connect(sys.argv[1])
        rows = c.execute("SELECT id, v FROM t ORDER BY id").fetchall()
        print(c.execute("PRAGMA integrity_check").fetchone()[0], len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
        """;

    [ExeFact]
    public void ReplicaWrittenByUpstreamV0313_RestoreAndReplicateRestoreIfDbNotExists_EqualSource()
    {
        Assert.True(s_upstream is not null, "upstream binary missing: run .ci/upstream.sh (CI does)");
        string dir = Exe.TempDir();
        string db = Path.Combine(dir, "app.db");
        Exe.Python(Writer, db, "1");
        var psi = new System.Diagnostics.ProcessStartInfo(s_upstream!) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in new[] { "replicate", db, $"file://{dir}/replica" })
        {
            psi.ArgumentList.Add(a);
        }
        using (var upstream = System.Diagnostics.Process.Start(psi)!)
        {
            Thread.Sleep(1000);
            Exe.Python(Writer, db, "4");
            Thread.Sleep(2500);
            System.Diagnostics.Process.Start("kill", ["-TERM", upstream.Id.ToString()])!.WaitForExit();
            Assert.True(upstream.WaitForExit(30_000));
        }
        Assert.True(Directory.Exists(Path.Combine(dir, "replica", "generations")), "upstream wrote no v0.3 generations");
        string output = Path.Combine(dir, "restored.db");
        Exe.Result r = Exe.Run("restore", "-o", output, $"file://{dir}/replica");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("from v0.3 generation", r.Stderr);
        Assert.Equal(Exe.Python(Dump, db), Exe.Python(Dump, output));

        // An upgrade in place: replicate with restore-if-db-not-exists on a new machine finds only v0.3
        // generations and must restore them (the same source choice as restore), then carry on in LTX.
        string fresh = Path.Combine(dir, "fresh.db");
        Exe.Result replicate = Exe.Run("replicate", "-once", "-restore-if-db-not-exists", fresh, $"file://{dir}/replica");
        Assert.True(replicate.ExitCode == 0, replicate.Stderr);
        Assert.Matches($@"restored {System.Text.RegularExpressions.Regex.Escape(fresh)} from v0\.3 generation [0-9a-f]{{16}}", replicate.Stdout + replicate.Stderr);
        Assert.Equal(Exe.Python(Dump, db), Exe.Python(Dump, fresh));
    }
}
