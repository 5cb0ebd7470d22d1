namespace Litestream.Aot.Tests.Cli;

/// <summary>
/// The CLI frame on the published exe: no-argument and help spellings, --version, unknown commands and flags,
/// and the local-state commands status and reset (the control-socket commands: ControlSocketTests).
/// </summary>
[Requires(Need.Python)]
public class FrameTests
{
    [RequiresFact(Need.Exe)]
    public void NoArguments_PrintsTheCommandsAndExitsTwo()
    {
        ProcessResult r = Exe.Run();
        Assert.Equal(2, r.ExitCode);
        foreach (string command in new[] { "replicate", "restore", "ltx", "databases", "status", "reset", "version" })
        {
            Assert.Matches($"(?m)^  {command} ", r.Stdout);
        }
        Assert.Equal("", r.Stderr);
    }

    [RequiresTheory(Need.Exe)]
    [InlineData("--version")]
    [InlineData("-version")]
    public void VersionFlag_PrintsWhatTheVersionCommandPrints(string flag)
    {
        ProcessResult command = Exe.Run("version");
        ProcessResult r = Exe.Run(flag);
        Assert.Equal(0, r.ExitCode);
        Assert.Equal(command.Stdout, r.Stdout);
    }

    [RequiresFact(Need.Exe)]
    public void Version_Verbose_NamesCommitRuntimeSqliteBuildAndBackends()
    {
        ProcessResult r = Exe.Run("version", "-verbose");
        Assert.Equal(0, r.ExitCode);
        string[] lines = r.Stdout.TrimEnd().Split('\n');
        Assert.Equal(Exe.Run("version").Stdout.TrimEnd(), lines[0]);
        Assert.Matches(@"^commit: ([0-9a-f]{40}|unknown)$", lines[1]);
        Assert.StartsWith("runtime: .NET 10.", lines[2]);
        Assert.Contains("NativeAOT", lines[2]);
        Assert.Matches(@"^sqlite: 3\.\d+\.\d+ \(linked statically, source \d{4}-\d\d-\d\d ", lines[3]);
        Assert.StartsWith("sqlite options: ", lines[4]);
        // The build flags build/sqlite.sh sets, read back from the linked library itself.
        foreach (string option in new[] { "THREADSAFE=1", "ENABLE_SNAPSHOT", "ENABLE_FTS5", "DEFAULT_MEMSTATUS=0" })
        {
            Assert.Contains(option, lines[4].Split(' '));
        }
        Assert.Matches(@"^backends: ([a-z0-9]+, )*file(, [a-z0-9]+)*$", lines[5]);
        // The CRC-64 kernel compiled into the exe: NativeAOT fixes IsSupported at compile time, so an x64
        // build without PCLMULQDQ in its instruction-set baseline falls back to the table (10x slower).
        string expected = System.Runtime.Intrinsics.X86.Pclmulqdq.IsSupported ? "pclmulqdq" : "none";
        Assert.StartsWith("gc: ", lines[6]);
        Assert.Equal($"crc64: {expected}", lines[7]);
        Assert.Equal(8, lines.Length);
    }

    [RequiresFact(Need.Exe)]
    public void HelpCommand_ShowsTheCommandsHelp()
    {
        ProcessResult help = Exe.Run("help", "restore");
        Assert.Equal(0, help.ExitCode);
        Assert.Equal(Exe.Run("restore", "-h").Stdout, help.Stdout);
        Assert.Equal(Exe.Run("-h").Stdout, Exe.Run("help").Stdout);
    }

    [RequiresFact(Need.Exe)]
    public void UnknownCommand_UsageErrorWithHint()
    {
        // (v0.3's "snapshots" is no longer unknown: it is answered with its replacement, FirstHourTests.)
        ProcessResult r = Exe.Run("snapshot");
        Assert.Equal(2, r.ExitCode);
        Assert.Equal("error: unknown command \"snapshot\"\nhint: run 'litestream -h' for the list of commands\n", r.Stderr);
        Assert.Equal("", r.Stdout);
    }

    [RequiresTheory(Need.Exe)]
    [InlineData("replicate", "-bogus")]
    [InlineData("databases", "--bogus")]
    [InlineData("status", "-bogus", "/tmp/x.db")]
    public void UnknownFlag_IsAUsageErrorEvenWhereAnArgumentFits(string command, params string[] args)
    {
        ProcessResult r = Exe.Run([command, .. args]);
        Assert.Equal(2, r.ExitCode);
        Assert.Equal($"error: unknown flag \"{args[0]}\"\nhint: run 'litestream {command} -h' for usage\n", r.Stderr);
    }

    [RequiresFact(Need.Exe)]
    public void BadFlagValue_UsageErrorNamesFlagAndValue()
    {
        ProcessResult r = Exe.Run("restore", "-parallelism", "many", "-o", "/tmp/x.db", "file:///tmp/r");
        Assert.Equal(2, r.ExitCode);
        Assert.Equal("error: invalid value \"many\" for -parallelism: expected a whole number\nhint: run 'litestream restore -h' for usage\n", r.Stderr);
    }

    [RequiresFact(Need.Exe)]
    public void Status_ReportsEachDatabaseAndItsLocalTxid()
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        string missing = Path.Combine(dir, "missing.db");
        SqliteWriter.Write(db, 20);
        string config = Path.Combine(dir, "c.yml");
        File.WriteAllText(config, $"dbs:\n  - path: {db}\n    replica:\n      url: file://{dir}/replica\n  - path: {missing}\n    replica:\n      url: file://{dir}/replica2\n");

        ProcessResult before = Exe.Run("status", "-config", config);
        Assert.Equal(0, before.ExitCode);
        string[] lines = before.Stdout.TrimEnd().Split('\n');
        Assert.Equal(3, lines.Length);
        Assert.Matches(@"^database +status +local txid +wal size$", lines[0]);
        Assert.Matches($"^{db} +not initialized +- +\\d+(\\.\\d)? k?B$", lines[1]);
        Assert.Matches($"^{missing} +no database +- +-$", lines[2]);

        ProcessResult once = Exe.Run("replicate", "-once", db, $"file://{dir}/replica");
        Assert.True(once.ExitCode == 0, once.Stderr);
        ProcessResult after = Exe.Run("status", "-json", "-config", config, db);
        Assert.Equal(0, after.ExitCode);
        Assert.Matches(
            $"^\\[\\n  {{\\n    \"database\": \"{db}\",\\n    \"status\": \"ok\",\\n    \"local_txid\": \"0000000000000001\",\\n    \"wal_size\": \"[^\"]+\"\\n  }}\\n\\]\\n$",
            after.Stdout);
    }

    [RequiresFact(Need.Exe)]
    public void Status_ConfigFromStandardInput()
    {
        string dir = TestRepo.TempDir();
        ProcessResult r = Exe.RunWithInput($"dbs:\n  - path: {dir}/none.db\n    replica:\n      url: file://{dir}/r\n", "status", "-config", "-");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Matches($"(?m)^{dir}/none.db +no database +- +-$", r.Stdout);
    }

    [RequiresFact(Need.Exe)]
    public void Status_PathNotInConfig_ErrorWithHint()
    {
        string dir = TestRepo.TempDir();
        File.WriteAllText(Path.Combine(dir, "c.yml"), $"dbs:\n  - path: {dir}/a.db\n    replica:\n      url: file://{dir}/r\n");
        ProcessResult r = Exe.Run("status", "-config", Path.Combine(dir, "c.yml"), Path.Combine(dir, "b.db"));
        Assert.Equal(1, r.ExitCode);
        Assert.Equal($"error: database not found in config: {dir}/b.db\nhint: 'litestream databases' lists the configured databases\n", r.Stderr);
    }

    [RequiresFact(Need.Exe)]
    public void Reset_DryRunListsThenResetRemovesLocalState()
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        SqliteWriter.Write(db, 20);
        string config = Path.Combine(dir, "c.yml");
        File.WriteAllText(config, $"dbs:\n  - path: {db}\n    replica:\n      url: file://{dir}/replica\n");
        ProcessResult once = Exe.Run("replicate", "-once", "-config", config);
        Assert.True(once.ExitCode == 0, once.Stderr);
        string ltxDir = Path.Combine(dir, ".app.db-litestream", "ltx");
        string l0 = Path.Combine(ltxDir, "0", "0000000000000001-0000000000000001.ltx");
        Assert.True(File.Exists(l0));

        ProcessResult dry = Exe.Run("reset", "-dry-run", "-config", config, db);
        Assert.Equal(0, dry.ExitCode);
        Assert.Equal(
            $"Dry run: local Litestream state would be reset for: {db}\nWould remove: {ltxDir}\nFiles that would be removed:\n  {l0}\nNo files were removed.\n",
            dry.Stdout);
        Assert.True(File.Exists(l0));

        ProcessResult reset = Exe.Run("reset", "-config", config, db);
        Assert.Equal(0, reset.ExitCode);
        Assert.Equal(
            $"Resetting local Litestream state for: {db}\nRemoving: {ltxDir}\nReset complete. Next replication sync will create a fresh snapshot.\n",
            reset.Stdout);
        Assert.False(Directory.Exists(ltxDir));
        Assert.True(File.Exists(db));
        Assert.Matches($"(?m)^{db} +not initialized ", Exe.Run("status", "-config", config).Stdout);

        // The next run continues the replica's TXID sequence with a snapshot; the replica still restores.
        ProcessResult again = Exe.Run("replicate", "-once", "-config", config);
        Assert.True(again.ExitCode == 0, again.Stderr);
        ProcessResult restore = Exe.Run("restore", "-o", Path.Combine(dir, "out.db"), $"file://{dir}/replica");
        Assert.True(restore.ExitCode == 0, restore.Stderr);
        Assert.Equal("20", SqliteWriter.Scalar(Path.Combine(dir, "out.db"), "SELECT count(*) FROM t"));
    }

    [RequiresFact(Need.Exe)]
    public void Reset_WithoutLocalStateOrConfig_SaysSo()
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        SqliteWriter.Write(db, 20);
        ProcessResult r = Exe.Run(new Dictionary<string, string> { ["LITESTREAM_CONFIG"] = Path.Combine(dir, "absent.yml") }, "reset", db);
        Assert.Equal(0, r.ExitCode);
        Assert.Equal($"No local state to reset for {db}\nMeta directory does not exist: {dir}/.app.db-litestream\n", r.Stdout);
    }

    [RequiresFact(Need.Exe)]
    public void Reset_MissingDatabase_Error()
    {
        string dir = TestRepo.TempDir();
        ProcessResult r = Exe.Run(new Dictionary<string, string> { ["LITESTREAM_CONFIG"] = Path.Combine(dir, "absent.yml") }, "reset", Path.Combine(dir, "nope.db"));
        Assert.Equal(1, r.ExitCode);
        Assert.StartsWith($"error: database does not exist: {dir}/nope.db\nhint: ", r.Stderr);
    }

    [RequiresFact(Need.Exe)]
    public void Wal_WarnsItIsDeprecatedAndListsLikeLtx()
    {
        string dir = TestRepo.TempDir();
        Directory.CreateDirectory(Path.Combine(dir, "replica"));
        ProcessResult wal = Exe.Run("wal", $"file://{dir}/replica");
        ProcessResult ltx = Exe.Run("ltx", $"file://{dir}/replica");
        Assert.Equal(0, wal.ExitCode);
        Assert.Equal("Warning: 'wal' command is deprecated, please use 'ltx' instead\n", wal.Stderr);
        Assert.Equal("level  min_txid  max_txid  size  created\n", wal.Stdout);
        Assert.Equal(ltx.Stdout, wal.Stdout);
        Assert.Equal("", ltx.Stderr);
    }
}
