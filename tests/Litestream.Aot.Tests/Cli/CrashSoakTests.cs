using System.Diagnostics;
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
public class CrashSoakTests(ITestOutputHelper output)
{
    // Each transaction adds its id to ids (kept for the check, 8 bytes a row) and a payload row to t; every
    // 500 ids the payload rows more than 1000 ids old are deleted, so their pages return to the freelist and
    // are reused and the database stays a few MB however long the soak runs (long mode: hours). Rewriting old
    // payloads in place instead left ~2 rows a page: 1.8 GB after an hour.
    private const string Writer = """
        import os, sqlite3, sys, time
        db, log, stop = sys.argv[1:4]
        c = sqlite3.connect(db, isolation_level=None)
        c.execute("PRAGMA busy_timeout=10000")
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v BLOB)")
        c.execute("CREATE TABLE IF NOT EXISTS ids(id INTEGER PRIMARY KEY)")
        i = c.execute("SELECT coalesce(max(id), 0) FROM ids").fetchone()[0]
        with open(log, "a", buffering=1) as out:
            while not os.path.exists(stop):
                i += 1
                c.execute("BEGIN")
                c.execute("INSERT INTO ids(id) VALUES (?)", (i,))
                c.execute("INSERT INTO t(id, v) VALUES (?, randomblob(?))", (i, (i * 131) % 3000))
                if i % 500 == 0:
                    c.execute("DELETE FROM t WHERE id < ?", (i - 1000,))
                c.execute("COMMIT")
                out.write("%d\n" % i)
                time.sleep(0.001)
        """;

    // Prints: integrity, highest id, ids missing below it or payload rows missing among the last 1000 (a gap or
    // a torn transaction: loss), committed ids missing (with the log).
    private const string Check = """
        import sqlite3, sys
        c = sqlite3.connect(sys.argv[1])
        ok = c.execute("PRAGMA integrity_check").fetchone()[0]
        ids = set(r[0] for r in c.execute("SELECT id FROM ids"))
        payloads = set(r[0] for r in c.execute("SELECT id FROM t"))
        top = max(ids) if ids else 0
        gaps = [i for i in range(1, top + 1) if i not in ids]
        gaps += [i for i in ids if i > top - 1000 and i not in payloads]
        lost = 0
        if len(sys.argv) > 2:
            committed = [int(l) for l in open(sys.argv[2]).read().split() if l.strip()]
            lost = len([i for i in committed if i not in ids])
            top = max([top] + committed)
        print(ok, top, len(gaps), lost)
        """;

    private static readonly (string Kind, string Start)[] s_targets =
    [
        ("checkpoint", "msg=\"checkpoint {0}: starting"),
        ("compaction", "msg=\"compacting {0} L"),
        ("snapshot upload", "msg=\"snapshot upload {0}:"),
    ];

    [ExeFact]
    public void KillDashNine_Quick_EveryRestoreConsistentAndNothingLost() => Soak(Kills(30));

    [LongFact]
    public void KillDashNine_Long_EveryRestoreConsistentAndNothingLost() => Soak(Kills(500));

    private static int Kills(int defaultKills) =>
        int.TryParse(Environment.GetEnvironmentVariable("LITESTREAM_SOAK_KILLS"), out int k) ? k : defaultKills;

    private void Soak(int kills)
    {
        string dir = Exe.TempDir();
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
        Process writer = StartWriter(db, log, stop);
        var during = s_targets.ToDictionary(t => t.Kind, _ => 0);
        int restoresChecked = 0, writerKills = 0;
        try
        {
            WaitUntil(() => File.Exists(db) && File.Exists(log), "the writer to start");
            for (int i = 0; i < kills; i++)
            {
                using (Exe.Daemon replicate = Exe.Start("replicate", "-config", config, "-log-level", "debug"))
                {
                    int target = i % 4 - 1;
                    if (target < 0)
                    {
                        Thread.Sleep(random.Next(100, 1500));
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
                    writer.WaitForExit();
                    writer.Dispose();
                    writerKills++;
                    writer = StartWriter(db, log, stop);
                }
                if (writer.HasExited)
                {
                    Assert.Fail($"the writer failed: {writer.StandardError.ReadToEnd()}");
                }
                string restored = Path.Combine(dir, $"after-kill-{i}.db");
                if (!AnyLtxFile(Path.Combine(dir, "replica", "ltx")))
                {
                    // Killed before its first sync completed (a loaded machine can take longer than the kill
                    // delay to start): there is nothing to restore, and restore must say so and write nothing.
                    Exe.Result none = Exe.Run("restore", "-o", restored, url);
                    Assert.Equal(1, none.ExitCode);
                    Assert.Contains("no backups available", none.Stderr);
                    Assert.False(File.Exists(restored));
                }
                else
                {
                    Exe.Result r = Exe.Run("restore", "-o", restored, url);
                    Assert.True(r.ExitCode == 0, $"restore after kill {i}: {r.Stderr}");
                    string[] check = Exe.Python(Check, restored).Split(' ');
                    Assert.True(check[0] == "ok" && check[2] == "0", $"restore after kill {i}: {string.Join(' ', check)}");
                    File.Delete(restored);
                    restoresChecked++;
                }
            }
            File.WriteAllText(stop, "");
            Assert.True(writer.WaitForExit(30_000), "the writer did not stop");
            Assert.True(writer.ExitCode == 0, $"the writer failed: {writer.StandardError.ReadToEnd()}");
        }
        finally
        {
            if (!writer.HasExited)
            {
                writer.Kill();
            }
            writer.Dispose();
        }
        using (Exe.Daemon last = Exe.Start("replicate", "-config", config))
        {
            WaitUntil(() => last.Output.Contains("replicating", StringComparison.Ordinal), "the final replicate to start");
            Thread.Sleep(1500);
            Assert.Equal(0, last.Stop());
        }
        string final = Path.Combine(dir, "final.db");
        Exe.Result fr = Exe.Run("restore", "-o", final, url);
        Assert.True(fr.ExitCode == 0, fr.Stderr);
        string[] result = Exe.Python(Check, final, log).Trim().Split(' ');
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

    private static Process StartWriter(string db, string log, string stop)
    {
        var psi = new ProcessStartInfo("python3") { RedirectStandardError = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(Writer);
        psi.ArgumentList.Add(db);
        psi.ArgumentList.Add(log);
        psi.ArgumentList.Add(stop);
        return Process.Start(psi)!;
    }

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

    private static void WaitUntil(Func<bool> condition, string what)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(60), $"timed out waiting for {what}");
            Thread.Sleep(20);
        }
    }
}

/// <summary>A long-mode fact: runs only with LITESTREAM_LONG=1 (tests/long.sh), never in CI.</summary>
public sealed class LongFactAttribute : FactAttribute
{
    public LongFactAttribute()
    {
        if (Exe.Path is null)
        {
            Skip = Exe.Missing;
        }
        else if (Environment.GetEnvironmentVariable("LITESTREAM_LONG") != "1")
        {
            Skip = "long mode: set LITESTREAM_LONG=1 (tests/long.sh)";
        }
    }
}
