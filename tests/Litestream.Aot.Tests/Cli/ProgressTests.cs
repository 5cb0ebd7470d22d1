using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Litestream.Aot.Cli;

namespace Litestream.Aot.Tests.Cli;

/// <summary>
/// The progress line of long work: its text, and on the published exe in a real pseudo-terminal (<c>script</c>) for
/// <c>restore</c> (of one database, of a <c>dir:</c> entry, in follow mode), <c>replicate -once</c> and <c>reset</c>, while nothing extra is written when stderr is not a terminal and
/// <c>-json</c>'s stdout stays one JSON document.
/// </summary>
public class ProgressTests
{
    /// <summary>
    /// One transaction of <paramref name="rows"/> random (incompressible) 4000-byte rows: the default, ~48 MiB, is a
    /// snapshot that takes a moment to upload and to restore.
    /// </summary>
    private static void CreateLarge(string db, int rows = 12000)
        => SqliteWriter.Write(db, new Workload { Commits = 1, Batch = rows.ToString(CultureInfo.InvariantCulture), Sizes = "4000" });

    [Fact]
    public void Render_BytesFilesRateAndEta()
    {
        using var line = ProgressLine.StartOn("restoring", TextWriter.Null);
        line.AddTotal(10 * 1024 * 1024, 4);
        line.AddBytes(5 * 1024 * 1024);
        line.AddFile();
        line.AddFile();
        Assert.Equal("restoring: 5.0 MiB / 10.0 MiB (50%), file 2/4, 2.5 MiB/s, ETA 2s", line.Render(TimeSpan.FromSeconds(2)));
        line.AddBytes(6 * 1024 * 1024);
        Assert.Equal("restoring: 10.0 MiB / 10.0 MiB (100%), file 2/4, 5.0 MiB/s", line.Render(TimeSpan.FromSeconds(2)));
    }

    [Fact]
    public void Render_UnknownTotal_NoPercentOrEta()
    {
        using var line = ProgressLine.StartOn("uploading", TextWriter.Null);
        line.AddBytes(1536);
        line.AddFile();
        Assert.Equal("uploading: 1.5 KiB, 1 file(s), 768 B/s", line.Render(TimeSpan.FromSeconds(2)));
        Assert.Equal("512 B", ProgressLine.Size(512));
        Assert.Equal("1.0 GiB", ProgressLine.Size(1L << 30));
    }

    [Fact]
    public void Render_SeveralDatabases_CountsThemDoneOfTotal()
    {
        using var line = ProgressLine.StartOn("restoring", TextWriter.Null);
        line.CountDatabases(3);
        line.AddTotal(10 * 1024 * 1024, 4);
        line.AddBytes(5 * 1024 * 1024);
        line.AddFile();
        line.AddFile();
        line.DatabaseDone();
        Assert.Equal("restoring: 1/3 databases, 5.0 MiB / 10.0 MiB (50%), file 2/4, 2.5 MiB/s, ETA 2s", line.Render(TimeSpan.FromSeconds(2)));
    }

    [Fact]
    public void Render_Status_ShowsWhatTheStatusSaysAtEachDraw()
    {
        int applied = 0;
        using var line = ProgressLine.StartOn("following", TextWriter.Null, () => $"txid {applied + 1:x16}, {applied} file(s) applied");
        Assert.Equal("following: txid 0000000000000001, 0 file(s) applied", line.Render(TimeSpan.FromSeconds(1)));
        applied = 2;
        Assert.Equal("following: txid 0000000000000003, 2 file(s) applied", line.Render(TimeSpan.FromSeconds(9)));
    }

    [Fact]
    public void Dispose_ErasesTheDrawnLine()
    {
        var terminal = new StringWriter();
        var line = ProgressLine.StartOn("restoring", terminal);
        Wait.Until(() => terminal.ToString().Length > 0, "the first draw");
        line.Dispose();
        line.Dispose();
        Assert.Matches("^(\\rrestoring: 0 B, 0 file\\(s\\), 0 B/s\\x1b\\[K)+\\r\\x1b\\[K$", terminal.ToString());
    }

    [RequiresFact(Need.Exe, Need.Python)]
    public void ReplicateOnceRestoreAndReset_OnATerminal_DrawAProgressLine_ElsewhereNothing()
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db"), config = Path.Combine(dir, "c.yml");
        CreateLarge(db);
        File.WriteAllText(config, $"dbs:\n  - path: {db}\n    replica:\n      url: file://{dir}/replica\n");

        string once = Terminal($"{Exe.Path} replicate -once -config {config}", dir);
        Assert.Matches("\\ruploading: [0-9.]+ [KMG]?i?B / [0-9.]+ MiB \\([0-9]+%\\), file [0-9]+/[0-9]+, [0-9.]+ [KMG]?i?B/s", once);
        Assert.DoesNotContain("\x1b[Ktime=", once.Replace("\r\x1b[K", "\n", StringComparison.Ordinal));

        // On a terminal: the line, erased before the result line; -json on stdout (a file) is the JSON alone.
        string json = Path.Combine(dir, "restore.json");
        string restore = Terminal($"{Exe.Path} restore -json -config {config} -o {dir}/tty.db {db} > {json}", dir);
        Assert.Matches("\\rrestoring: [0-9.]+ [KMG]?i?B / [0-9.]+ MiB \\([0-9]+%\\), file [01]/1, ", restore);
        Assert.Matches($"\\r\\x1b\\[Krestored {dir}/tty.db to txid 0000000000000001 from 1 file\\(s\\) \\([0-9]+ bytes\\)\\r?\\n$", restore);
        using (JsonDocument summary = JsonDocument.Parse(File.ReadAllText(json)))
        {
            Assert.Equal(1, summary.RootElement.GetProperty("files").GetInt32());
        }

        // reset over the local LTX files -once left: counted file by file, erased before its report.
        string reset = Terminal($"{Exe.Path} reset -config {config} {db}", dir);
        Assert.Matches("\\rremoving: [0-9.]+ [KMG]?i?B / [0-9.]+ [KMG]?i?B \\([0-9]+%\\), file 1/[0-9]+, ", reset);
        Assert.Matches("\\r\\x1b\\[KResetting local Litestream state for: ", reset);

        // Not a terminal: the result line only.
        ProcessResult piped = Exe.Run("restore", "-json", "-config", config, "-o", $"{dir}/piped.db", db);
        Assert.Equal(0, piped.ExitCode);
        Assert.Matches($"^restored {dir}/piped.db to txid 0000000000000001 from 1 file\\(s\\) \\([0-9]+ bytes\\)\\n$", piped.Stderr);
        using (JsonDocument summary = JsonDocument.Parse(piped.Stdout))
        {
            Assert.Equal($"{dir}/piped.db", summary.RootElement.GetProperty("db_path").GetString());
        }
        ProcessResult quiet = Exe.Run("replicate", "-once", "-force-snapshot", "-config", config);
        Assert.Equal(0, quiet.ExitCode);
        Assert.DoesNotContain("\r", quiet.Stderr);
        Assert.DoesNotContain("uploading:", quiet.Stderr);
    }

    [RequiresFact(Need.Exe, Need.Python)]
    public void RestoreDirectory_OnATerminal_OneLineForAllDatabases_ElsewhereNothing()
    {
        string dir = TestRepo.TempDir();
        string root = Path.Combine(dir, "tenants"), replica = Path.Combine(dir, "replica"), config = Path.Combine(dir, "c.yml");
        string[] names = ["a.db", "b.db", "eu/c.db"];
        Directory.CreateDirectory(Path.Combine(root, "eu"));
        foreach (string name in names)
        {
            CreateLarge(Path.Combine(root, name), 1500);
        }
        File.WriteAllText(config, $"dbs:\n  - dir: {root}\n    pattern: \"*.db\"\n    recursive: true\n    replica:\n      url: file://{replica}\n");
        ReplicateOnce(config);
        // One file per database after -once: the line's totals are their sizes summed, known before any restore starts.
        string[] files = Directory.GetFiles(replica, "*.ltx", SearchOption.AllDirectories);
        Assert.Equal(3, files.Length);
        string total = ProgressLine.Size(files.Sum(f => new FileInfo(f).Length));

        string tty = Path.Combine(dir, "tty");
        string shown = Terminal($"{Exe.Path} restore -config {config} -o {tty} {root}", dir);
        Assert.Matches($"\\rrestoring: [0-3]/3 databases, [0-9.]+ [KMG]?i?B / {Regex.Escape(total)} \\([0-9]+%\\), file [0-3]/3, [0-9.]+ [KMG]?i?B/s", shown);
        string[] expected = [.. names.Select(n => $"restored {tty}/{n} to txid 0000000000000001 from 1 file(s) ("), $"restored 3 database(s) into {tty}"];
        // What stays on the screen: the result lines alone, each whole (the line was erased before each).
        string[] screen = [.. Visible(shown).Order(StringComparer.Ordinal)];
        Assert.Equal(4, screen.Length);
        Assert.All(expected, e => Assert.Single(screen, l => l.StartsWith(e, StringComparison.Ordinal)));
        foreach (string name in names)
        {
            Assert.Equal(SqliteWriter.Dump(Path.Combine(root, name)), SqliteWriter.Dump(Path.Combine(tty, name)));
        }

        ProcessResult piped = Exe.Run("restore", "-config", config, "-o", Path.Combine(dir, "piped"), root);
        Assert.True(piped.ExitCode == 0, piped.Stderr);
        Assert.DoesNotContain("\r", piped.Stderr);
        Assert.DoesNotContain("restoring:", piped.Stderr);
        Assert.Equal(4, piped.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.EndsWith($"restored 3 database(s) into {dir}/piped\n", piped.Stderr);
    }

    [RequiresFact(Need.Exe, Need.Python)]
    public void RestoreFollow_OnATerminal_ShowsTheFirstRestoreThenTheAppliedTxid_ElsewhereNothing()
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db"), config = Path.Combine(dir, "c.yml");
        CreateLarge(db, 2000);
        File.WriteAllText(config, $"dbs:\n  - path: {db}\n    replica:\n      url: file://{dir}/replica\n");
        ReplicateOnce(config);

        // The shell's pid becomes the exe's (exec), so the test can stop it with SIGINT as Ctrl-C would.
        string output = Path.Combine(dir, "followed.db"), log = Path.Combine(dir, "follow.log"), pid = Path.Combine(dir, "follow.pid");
        using (var follow = new BackgroundProcess("script", ["-qfec", $"echo $$ > {pid}; exec {Exe.Path} restore -f -follow-interval 100ms -config {config} -o {output} {db}", log]))
        {
            Wait.Until(() => Shown(log).Contains($"following {output} from txid 0000000000000001\n", StringComparison.Ordinal), "follow mode to start", follow);
            Assert.Matches("\\rrestoring: [0-9.]+ [KMG]?i?B / [0-9.]+ MiB \\([0-9]+%\\), file [01]/1, ", Shown(log));

            // Two more transactions, each its own L0 file: the line follows the TXID and counts the files and their bytes.
            for (int txid = 2; txid <= 3; txid++)
            {
                CreateLarge(db, 3);
                ReplicateOnce(config);
                string applied = $"\rfollowing: txid {txid:x16}, {txid - 1} file(s) applied (";
                Wait.Until(() => Shown(log).Contains(applied, StringComparison.Ordinal), $"the line to show txid {txid}", follow);
            }
            long bytes = Directory.GetFiles(Path.Combine(dir, "replica", "ltx", "0"), "*.ltx").Where(f => !Path.GetFileName(f).StartsWith("0000000000000001-", StringComparison.Ordinal)).Sum(f => new FileInfo(f).Length);
            Assert.Contains($"\rfollowing: txid 0000000000000003, 2 file(s) applied ({ProgressLine.Size(bytes)})\x1b[K", Shown(log));

            Processes.RunOk("kill", ["-INT", File.ReadAllText(pid).Trim()]);
            Assert.Equal(0, follow.WaitForExit(TimeSpan.FromMinutes(2)));
        }
        // Erased on the way out: nothing of the line stays on the screen, the log lines of each file applied do.
        string[] screen = Visible(Shown(log));
        Assert.DoesNotContain(screen, l => l.Contains("following:", StringComparison.Ordinal) || l.Contains("restoring:", StringComparison.Ordinal));
        Assert.Equal(2, screen.Count(l => l.Contains("now at txid 000000000000000", StringComparison.Ordinal)));

        // Not a terminal: the log lines alone, no carriage return.
        string piped = Path.Combine(dir, "piped.db");
        using (BackgroundProcess quiet = Exe.Start("restore", "-f", "-follow-interval", "100ms", "-config", config, "-o", piped, db))
        {
            Wait.Until(() => quiet.Output.Contains($"following {piped} from txid 0000000000000003", StringComparison.Ordinal), "follow mode to start", quiet);
            CreateLarge(db, 3);
            ReplicateOnce(config);
            Wait.Until(() => quiet.Output.Contains("now at txid 0000000000000004", StringComparison.Ordinal), "the new file to be applied", quiet);
            Assert.Equal(0, quiet.Stop());
            Assert.DoesNotContain("\r", quiet.Output);
            Assert.DoesNotContain("following:", quiet.Output);
            Assert.DoesNotContain("restoring:", quiet.Output);
        }
    }

    private static void ReplicateOnce(string config)
    {
        ProcessResult once = Exe.Run("replicate", "-once", "-config", config);
        Assert.True(once.ExitCode == 0, once.Output);
    }

    /// <summary>What a terminal shows of <paramref name="raw"/>: per line, the text after its last carriage return, without erase codes.</summary>
    private static string[] Visible(string raw)
        => [.. raw.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n')
            .Select(l => l[(l.LastIndexOf('\r') + 1)..].Replace("\x1b[K", "", StringComparison.Ordinal))
            .Where(l => l.Length > 0)];

    /// <summary>What <c>script</c> has logged so far (the terminal's CR LF as LF), without its own header and footer lines.</summary>
    private static string Shown(string log)
        => File.Exists(log) ? string.Join('\n', File.ReadAllText(log).Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n').Where(l => !l.StartsWith("Script ", StringComparison.Ordinal))) : "";

    /// <summary>Runs <paramref name="command"/> under <c>script</c>: stdin, stdout and stderr are a pseudo-terminal; returns what it showed.</summary>
    private static string Terminal(string command, string dir)
    {
        string log = Path.Combine(dir, $"tty-{Guid.NewGuid():N}.log");
        ProcessResult result = Processes.Run("script", ["-qfec", command, log], TimeSpan.FromMinutes(5));
        Assert.True(result.ExitCode == 0, $"exit {result.ExitCode}: {result.Output}");
        return Shown(log);
    }
}
