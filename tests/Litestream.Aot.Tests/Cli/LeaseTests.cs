using System.Diagnostics;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Litestream.Aot.Tests.Cli;

/// <summary>
/// The single-writer lease through the published exe: two <c>replicate</c> processes (two app instances in an
/// overlapping deploy, each with its own database) on one file replica.
/// </summary>
[Requires(Need.Python)]
public sealed partial class LeaseTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(3);

    [RequiresFact(Need.Exe)]
    public void SecondReplicate_SameReplica_RefusedNamingTheHolder_ThenTakesOverAfterKill9()
    {
        string dir = TestRepo.TempDir();
        string replica = Path.Combine(dir, "replica");
        string dbA = Path.Combine(dir, "a", "app.db"), dbB = Path.Combine(dir, "b", "app.db");
        Directory.CreateDirectory(Path.GetDirectoryName(dbA)!);
        Directory.CreateDirectory(Path.GetDirectoryName(dbB)!);
        SqliteWriter.Write(dbA, 10);
        SqliteWriter.Write(dbB, 25);
        string configA = Config(dir, dbA, replica), configB = Config(dir, dbB, replica);
        using BackgroundProcess first = Exe.Start("replicate", "-config", configA);
        Wait.Until(() => File.Exists(Path.Combine(replica, "ltx", "0", "0000000000000001-0000000000000001.ltx")), "the first upload", first);

        ProcessResult refused = Exe.Run("replicate", "-config", configB);
        Assert.Equal(1, refused.ExitCode);
        Match line = HeldLine().Match(refused.Stderr);
        Assert.True(line.Success, refused.Stderr);
        Assert.Equal($"error: lease file://{replica}/lease.json is held by host {Environment.MachineName} pid {first.Pid} until {line.Groups[1].Value}\n"
            + $"hint: another replicate writes to this replica; stop it, or wait for it with -lease-wait (a holder that died frees the lease at {line.Groups[1].Value})\n",
            refused.Stderr[refused.Stderr.IndexOf("error: ", StringComparison.Ordinal)..]);
        Assert.Equal(SqliteWriter.Dump(dbA), Restore(dir, replica)); // the refused one uploaded nothing

        using BackgroundProcess second = Exe.Start("replicate", "-config", configB, "-lease-wait", "1m");
        Wait.Until(() => second.Output.Contains("waiting up to 1m0s", StringComparison.Ordinal), "the second replicate to wait for the lease", second);
        var sinceKill = Stopwatch.StartNew();
        first.Kill(); // SIGKILL: no release, the lease must expire
        Wait.Until(() => second.Output.Contains("lease taken: generation 2", StringComparison.Ordinal), "the takeover", second);
        TimeSpan takeover = sinceKill.Elapsed;
        output.WriteLine($"takeover {takeover.TotalSeconds:0.00} s after kill -9 (ttl {Ttl.TotalSeconds} s)");
        // The killed holder's last renewal was at most ttl/3 before the kill, and its lease ran a whole ttl from there.
        Assert.True(takeover >= Ttl - (Ttl / 3) - TimeSpan.FromMilliseconds(100), $"taken over {takeover} after the kill, before the lease expired");

        Wait.Until(() => second.Output.Contains("continuing the replica's TXIDs with a snapshot", StringComparison.Ordinal) || second.Output.Contains("replica is ahead of local state", StringComparison.Ordinal), "the second to continue the replica", second);
        SqliteWriter.Write(dbB, 5);
        Assert.Equal(0, second.Stop());
        Assert.Contains("lease released (generation 2)", second.Output, StringComparison.Ordinal);
        Assert.Contains("\"released\":true", File.ReadAllText(Path.Combine(replica, "lease.json")), StringComparison.Ordinal);
        Assert.Equal(SqliteWriter.Dump(dbB), Restore(dir, replica));
    }

    [RequiresFact(Need.Exe)]
    public void LeaseTtl_TooShort_IsAConfigError()
    {
        string dir = TestRepo.TempDir();
        string config = Path.Combine(dir, "litestream.yml");
        File.WriteAllText(config, $"dbs:\n  - path: {dir}/app.db\n    lease:\n      enabled: true\n      ttl: 1s\n    replica:\n      url: file://{dir}/replica\n");
        ProcessResult r = Exe.Run("replicate", "-config", config);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("dbs[0].lease.ttl: must be at least 3s, got 1s", r.Stderr, StringComparison.Ordinal);
    }

    private static string Config(string dir, string db, string replica)
    {
        string config = Path.Combine(dir, $"litestream-{Guid.NewGuid():N}.yml");
        File.WriteAllText(config, $"shutdown-sync-timeout: 10s\ndbs:\n  - path: {db}\n    lease:\n      enabled: true\n      ttl: {Ttl.TotalSeconds}s\n    replica:\n      url: file://{replica}\n");
        return config;
    }

    private static string Restore(string dir, string replica)
    {
        string restored = Path.Combine(dir, $"restored-{Guid.NewGuid():N}.db");
        ProcessResult r = Exe.Run("restore", "-o", restored, $"file://{replica}");
        Assert.True(r.ExitCode == 0, r.Stderr);
        return SqliteWriter.Dump(restored);
    }

    [GeneratedRegex(@"is held by host \S+ pid \d+ until (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)\n")]
    private static partial Regex HeldLine();
}
