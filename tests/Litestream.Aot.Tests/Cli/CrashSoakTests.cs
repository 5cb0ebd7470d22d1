using System.Globalization;
using Xunit.Abstractions;

namespace Litestream.Aot.Tests.Cli;

/// <summary>
/// Crash soak: a python3 writer commits numbered rows continuously and logs every committed id while
/// `litestream replicate` (compaction every 1 s and 3 s, a snapshot every 2 s, checkpoints every few
/// hundred KB) is killed with SIGKILL and restarted. A quarter of the kills land at a random moment; the
/// others fire the instant a checkpoint, a compaction or a snapshot upload logs its start, and the log
/// the process left shows whether it died inside that work. Every seventh round the writer is killed
/// too and restarted. After every kill the replica must restore to a consistent committed state
/// (integrity ok, rows a gap-free prefix of what the writer committed); after a clean shutdown at the
/// end every committed id must be there.
/// Quick mode (CI): 30 kills. Long mode: LITESTREAM_LONG=1 (500 kills; LITESTREAM_SOAK_KILLS overrides),
/// see tests/long.sh.
/// </summary>
[Requires(Need.Python)]
public class CrashSoakTests(ITestOutputHelper output)
{
    private static readonly (string Kind, string Start)[] s_targets =
    [
        ("checkpoint", "msg=\"checkpoint {0}: starting"),
        ("compaction", "msg=\"compacting {0} L"),
        ("snapshot upload", "msg=\"snapshot upload {0}:"),
    ];

    [RequiresFact(Need.Exe)]
    public void KillDashNine_Quick_EveryRestoreConsistentAndNothingLost() => Soak(Kills(30));

    [RequiresFact(Need.Exe, Need.LongMode)]
    public void KillDashNine_Long_EveryRestoreConsistentAndNothingLost() => Soak(Kills(500));

    private static int Kills(int defaultKills) =>
        int.TryParse(Environment.GetEnvironmentVariable("LITESTREAM_SOAK_KILLS"), out int k) ? k : defaultKills;

    private void Soak(int kills)
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        string log = Path.Combine(dir, "committed.log");
        string stop = Path.Combine(dir, "stop");
        string url = $"file://{dir}/replica";
        string config = Path.Combine(dir, "litestream.yml");
        File.WriteAllText(config, $"""
            levels:
              - interval: 1s
              - interval: 3s
            snapshot:
              interval: 2s
              retention: 1h
            dbs:
              - path: {db}
                min-checkpoint-page-count: 64
                checkpoint-interval: 1s
                replica:
                  url: {url}
            """);
        var random = new Random(7);
        BackgroundProcess writer = StartWriter(db, log, stop);
        var during = s_targets.ToDictionary(t => t.Kind, _ => 0);
        int restoresChecked = 0, writerKills = 0;
        try
        {
            Wait.Until(() => File.Exists(db) && File.Exists(log), "the writer to start");
            for (int i = 0; i < kills; i++)
            {
                using (BackgroundProcess replicate = Exe.Start("replicate", "-config", config, "-log-level", "debug"))
                {
                    int target = i % 4 - 1;
                    if (target < 0)
                    {
                        Thread.Sleep(random.Next(100, 1500)); // a random moment to kill at, not a wait for something
                    }
                    else
                    {
                        string start = string.Format(CultureInfo.InvariantCulture, s_targets[target].Start, db);
                        using var fired = new ManualResetEventSlim();
                        replicate.OnLine = line =>
                        {
                            if (line.Contains(start, StringComparison.Ordinal))
                            {
                                replicate.Kill(wait: false);
                                fired.Set();
                            }
                        };
                        // Snapshots tick every 2 s, compactions every 1 s; a checkpoint follows a few syncs.
                        fired.Wait(TimeSpan.FromSeconds(8));
                    }
                    replicate.Kill();
                    foreach (string kind in KilledDuring(replicate.Output, db))
                    {
                        during[kind]++;
                    }
                }
                if (i % 7 == 6)
                {
                    writer.Kill();
                    writer.Dispose();
                    writerKills++;
                    writer = StartWriter(db, log, stop);
                }
                if (writer.HasExited)
                {
                    Assert.Fail($"the writer failed: {writer.Output}");
                }
                string restored = Path.Combine(dir, $"after-kill-{i}.db");
                if (!AnyLtxFile(Path.Combine(dir, "replica", "ltx")))
                {
                    // Killed before its first sync completed (a loaded machine can take longer than the kill
                    // delay to start): there is nothing to restore, and restore must say so and write nothing.
                    ProcessResult none = Exe.Run("restore", "-o", restored, url);
                    Assert.Equal(1, none.ExitCode);
                    Assert.Contains("no backups available", none.Stderr);
                    Assert.False(File.Exists(restored));
                }
                else
                {
                    ProcessResult r = Exe.Run("restore", "-o", restored, url);
                    Assert.True(r.ExitCode == 0, $"restore after kill {i}: {r.Stderr}");
                    string[] check = SqliteWriter.Check(restored, recent: 1000); // integrity, top, gaps, lost, logged
                    Assert.True(check[0] == "ok" && check[2] == "0", $"restore after kill {i}: {string.Join(' ', check)}");
                    File.Delete(restored);
                    restoresChecked++;
                }
            }
            File.WriteAllText(stop, "");
            writer.WaitForSuccess(TimeSpan.FromMinutes(2));
        }
        finally
        {
            writer.Dispose();
        }
        using (BackgroundProcess last = Exe.Start("replicate", "-config", config))
        {
            Wait.Until(() => last.Output.Contains("replicating", StringComparison.Ordinal), "the final replicate to start", last);
            Assert.Equal(0, last.Stop()); // its final sync uploads what the killed ones left
        }
        string final = Path.Combine(dir, "final.db");
        ProcessResult fr = Exe.Run("restore", "-o", final, url);
        Assert.True(fr.ExitCode == 0, fr.Stderr);
        string[] result = SqliteWriter.Check(final, log, recent: 1000);
        string committed = File.ReadAllLines(log).Last(l => l.Length > 0);
        string summary = $"crash soak: {kills} replicator kills ({string.Join(", ", during.Select(d => $"{d.Value} during {d.Key}"))}), "
            + $"{writerKills} writer kills, {restoresChecked + 1} restores checked, 0 corrupt, {result[3]} committed txns lost, last committed id {committed}";
        output.WriteLine(summary);
        Console.WriteLine(summary);
        Assert.Equal(("ok", committed, "0", "0"), (result[0], result[1], result[2], result[3]));
        Assert.True(restoresChecked >= kills / 2, $"only {restoresChecked} restores checked");
        foreach ((string kind, int count) in during)
        {
            Assert.True(count > 0, $"no kill landed during a {kind}: {summary}");
        }
    }

    /// <summary>
    /// Commits until the stop file appears, logging each id once COMMIT returned. Each transaction adds its id to the
    /// ledger (kept for the check, 8 bytes a row) and a payload row to t; every 500th transaction deletes the payload
    /// rows more than 1000 ids old, so their pages return to the freelist and are reused and the database stays a few
    /// MB however long the soak runs (long mode: hours). Rewriting old payloads in place instead left ~2 rows a page:
    /// 1.8 GB after an hour. <see cref="SqliteWriter.Check"/> with recent 1000 then counts ids missing below the
    /// highest or payload rows missing among the newest 1000 (a gap or a torn transaction: loss).
    /// </summary>
    private static BackgroundProcess StartWriter(string db, string log, string stop) => SqliteWriter.Start(db, new Workload
    {
        StopFile = stop,
        Log = log,
        Ledger = true,
        Prune = "id < {id} - 1000",
        PruneEvery = 500,
        Sizes = "0,1000,2000,2999",
        Pause = 0.001,
        BusyTimeoutMs = 10_000,
    });

    private static bool AnyLtxFile(string ltxRoot) =>
        Directory.Exists(ltxRoot) && Directory.EnumerateFiles(ltxRoot, "*.ltx", SearchOption.AllDirectories).Any();

    /// <summary>The kinds of work the process was inside when it died: a start line its log never finished.</summary>
    internal static IEnumerable<string> KilledDuring(string log, string db)
    {
        string[] lines = log.Split('\n');
        int Last(string text) => Array.FindLastIndex(lines, l => l.Contains(text, StringComparison.Ordinal));
        int checkpoint = Last($"msg=\"checkpoint {db}: starting");
        if (checkpoint >= 0 && checkpoint > Math.Max(Last($"msg=\"checkpoint {db}: finished"), Last($"msg=\"checkpoint {db} deferred")))
        {
            yield return "checkpoint";
        }
        for (int level = 1; level <= 2; level++)
        {
            if (Last($"msg=\"compacting {db} L{level}:") is int start and >= 0 && start > Last($"msg=\"compacted {db} L{level}:"))
            {
                yield return "compaction";
                break;
            }
        }
        int snapshot = Last($"msg=\"snapshot upload {db}:");
        if (snapshot >= 0 && snapshot > Last($"msg=\"compacted {db} L9:"))
        {
            yield return "snapshot upload";
        }
    }
}
