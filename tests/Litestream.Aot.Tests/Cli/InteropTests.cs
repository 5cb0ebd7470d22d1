namespace Litestream.Aot.Tests.Cli;

/// <summary>
/// Interop with the upstream Go binary this machine can get (v0.3.13, fetched by .ci/upstream.sh): it
/// replicates a live database to a file replica in its v0.3 generations layout, and our exe restores it.
/// </summary>
[Requires(Need.Python)]
public class InteropTests
{
    /// <summary>Rounds of 200 one-row commits, a pause after each round; a TRUNCATE checkpoint from another connection after the second.</summary>
    private static void Write(string db, int rounds) => SqliteWriter.Write(db, new Workload
    {
        Commits = 200 * rounds,
        Pad = 700,
        Pause = 0.3,
        PauseEvery = 200,
        Checkpoint = rounds >= 2 ? "TRUNCATE" : null,
        CheckpointAfter = 400,
    });

    [RequiresFact(Need.Exe, Need.Upstream)]
    public void ReplicaWrittenByUpstreamV0313_RestoreAndReplicateRestoreIfDbNotExists_EqualSource()
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        Write(db, 1);
        string output = Path.Combine(dir, "restored.db");
        using (var upstream = new BackgroundProcess(Prerequisites.Upstream!, ["replicate", db, $"file://{dir}/replica"]))
        {
            Wait.Until(() => Directory.Exists(Path.Combine(dir, "replica", "generations")), "upstream's first snapshot", upstream);
            Write(db, 4);
            // Upstream has caught up when its replica restores to what the database holds.
            string expected = SqliteWriter.Dump(db);
            Wait.Until(() => RestoresTo(output, $"file://{dir}/replica", expected), "upstream's replica to hold every commit", upstream);
            upstream.Stop();
        }
        Assert.True(Directory.Exists(Path.Combine(dir, "replica", "generations")), "upstream wrote no v0.3 generations");
        File.Delete(output);
        ProcessResult r = Exe.Run("restore", "-o", output, $"file://{dir}/replica");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("from v0.3 generation", r.Stderr);
        Assert.Equal(SqliteWriter.Dump(db), SqliteWriter.Dump(output));

        // An upgrade in place: replicate with restore-if-db-not-exists on a new machine finds only v0.3
        // generations and must restore them (the same source choice as restore), then carry on in LTX.
        string fresh = Path.Combine(dir, "fresh.db");
        ProcessResult replicate = Exe.Run("replicate", "-once", "-restore-if-db-not-exists", fresh, $"file://{dir}/replica");
        Assert.True(replicate.ExitCode == 0, replicate.Stderr);
        Assert.Matches($@"restored {System.Text.RegularExpressions.Regex.Escape(fresh)} from v0\.3 generation [0-9a-f]{{16}}", replicate.Stdout + replicate.Stderr);
        Assert.Equal(SqliteWriter.Dump(db), SqliteWriter.Dump(fresh));
    }

    /// <summary>Restores <paramref name="url"/> to <paramref name="output"/> (replacing it); true when that holds <paramref name="expected"/>.</summary>
    private static bool RestoresTo(string output, string url, string expected)
    {
        File.Delete(output);
        return Exe.Run("restore", "-o", output, url).ExitCode == 0 && SqliteWriter.Dump(output) == expected;
    }
}
