using System.Text.Json;
using Litestream.Aot.Cli;

namespace Litestream.Aot.Tests.Cli;

/// <summary>
/// The progress line of long work: its text, and on the published exe in a real pseudo-terminal (<c>script</c>) for
/// <c>restore</c>, <c>replicate -once</c> and <c>reset</c>, while nothing extra is written when stderr is not a terminal and
/// <c>-json</c>'s stdout stays one JSON document.
/// </summary>
public class ProgressTests
{
    // ~48 MiB of random (incompressible) rows: a snapshot that takes a moment to upload and to restore.
    private const string CreateLarge = """
        import os, sqlite3, sys
        c = sqlite3.connect(sys.argv[1], isolation_level=None)
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)")
        c.execute("BEGIN")
        for i in range(12000):
            c.execute("INSERT INTO t(v) VALUES (?)", (os.urandom(4000),))
        c.execute("COMMIT")
        """;

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
        Python.Run(CreateLarge, db);
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

    /// <summary>Runs <paramref name="command"/> under <c>script</c>: stdin, stdout and stderr are a pseudo-terminal; returns what it showed.</summary>
    private static string Terminal(string command, string dir)
    {
        string log = Path.Combine(dir, $"tty-{Guid.NewGuid():N}.log");
        ProcessResult result = Processes.Run("script", ["-qfec", command, log], TimeSpan.FromMinutes(5));
        Assert.True(result.ExitCode == 0, $"exit {result.ExitCode}: {result.Output}");
        string shown = File.ReadAllText(log);
        // script's own header and footer lines ("Script started/done on ...") when it writes them.
        return string.Join('\n', shown.Split('\n').Where(l => !l.StartsWith("Script ", StringComparison.Ordinal)));
    }
}
