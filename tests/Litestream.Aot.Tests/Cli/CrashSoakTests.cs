using System.Diagnostics;

namespace Litestream.Aot.Tests.Cli;

/// <summary>
/// Quick crash soak: a python3 writer commits numbered rows continuously while `litestream replicate`
/// is killed with SIGKILL at random moments 30 times and restarted. After every kill the replica must
/// restore to a consistent committed state: integrity ok and the rows a gap-free prefix of what the
/// writer committed. After a final clean shutdown every committed row must be there.
/// (A long mode: LITESTREAM_SOAK_KILLS=500.)
/// </summary>
public class CrashSoakTests
{
    private const string Writer = """
        import sqlite3, sys, time
        c = sqlite3.connect(sys.argv[1], isolation_level=None)
        c.execute("PRAGMA busy_timeout=10000")
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v BLOB)")
        deadline = time.time() + float(sys.argv[2])
        i = 0
        while time.time() < deadline:
            i += 1
            c.execute("INSERT INTO t(id, v) VALUES (?, randomblob(?))", (i, (i * 131) % 3000))
            if i % 500 == 0:
                c.execute("DELETE FROM t WHERE id % 7 = 0 AND id < ?", (i - 1000,))
            time.sleep(0.001)
        print(i)
        """;

    private const string Check = """
        import sqlite3, sys
        c = sqlite3.connect(sys.argv[1])
        ok = c.execute("PRAGMA integrity_check").fetchone()[0]
        ids = [r[0] for r in c.execute("SELECT id FROM t ORDER BY id")]
        top = ids[-1] if ids else 0
        expected = [i for i in range(1, top + 1) if not (i % 7 == 0 and i < top - 1000)]
        missing = sorted(set(expected) - set(ids))
        # rows deleted by the writer's periodic DELETE may legitimately be absent; any other gap is loss
        print(ok, top, len([m for m in missing if m % 7 != 0]))
        """;

    [ExeFact]
    public void KillDashNine_ThirtyTimes_EveryRestoreConsistentAndNothingLost()
    {
        int kills = int.TryParse(Environment.GetEnvironmentVariable("LITESTREAM_SOAK_KILLS"), out int k) ? k : 30;
        string dir = Exe.TempDir();
        string db = Path.Combine(dir, "app.db");
        string url = $"file://{dir}/replica";
        var random = new Random(7);
        var psi = new ProcessStartInfo("python3") { RedirectStandardOutput = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(Writer);
        psi.ArgumentList.Add(db);
        psi.ArgumentList.Add((kills * 0.9 + 5).ToString(System.Globalization.CultureInfo.InvariantCulture));
        using Process writer = Process.Start(psi)!;
        while (!File.Exists(db))
        {
            Thread.Sleep(20);
        }
        int restoresChecked = 0;
        for (int i = 0; i < kills; i++)
        {
            using (Exe.Daemon replicate = Exe.Start("replicate", db, url))
            {
                Thread.Sleep(random.Next(100, 900));
                Process.Start("kill", ["-KILL", replicate.Pid.ToString()])!.WaitForExit();
                Thread.Sleep(50);
            }
            string output = Path.Combine(dir, $"after-kill-{i}.db");
            if (!AnyLtxFile(Path.Combine(dir, "replica", "ltx")))
            {
                // Killed before its first sync completed (a loaded machine can take longer than the kill
                // delay to start): there is nothing to restore, and restore must say so and write nothing.
                Exe.Result none = Exe.Run("restore", "-o", output, url);
                Assert.Equal(1, none.ExitCode);
                Assert.Contains("no backups available", none.Stderr);
                Assert.False(File.Exists(output));
            }
            else
            {
                Exe.Result r = Exe.Run("restore", "-o", output, url);
                Assert.True(r.ExitCode == 0, $"restore after kill {i}: {r.Stderr}");
                string[] check = Exe.Python(Check, output).Split(' ');
                Assert.Equal("ok", check[0]);
                Assert.Equal("0", check[2].Trim());
                File.Delete(output);
                restoresChecked++;
            }
        }
        string committed = writer.StandardOutput.ReadToEnd().Trim();
        writer.WaitForExit();
        using (Exe.Daemon last = Exe.Start("replicate", db, url))
        {
            Thread.Sleep(1500);
            Assert.Equal(0, last.Stop());
        }
        string final = Path.Combine(dir, "final.db");
        Exe.Result fr = Exe.Run("restore", "-o", final, url);
        Assert.True(fr.ExitCode == 0, fr.Stderr);
        string[] result = Exe.Python(Check, final).Split(' ');
        Assert.Equal(("ok", committed, "0"), (result[0], result[1], result[2].Trim()));
        Assert.True(restoresChecked >= kills / 2, $"only {restoresChecked} restores checked");
    }

    private static bool AnyLtxFile(string ltxRoot) =>
        Directory.Exists(ltxRoot) && Directory.EnumerateFiles(ltxRoot, "*.ltx", SearchOption.AllDirectories).Any();
}
