namespace Litestream.Aot.Tests.Cli;

/// <summary>The published exe as a user drives it: output, exit codes, one-line errors with hints.</summary>
public class CliTests
{
    [RequiresFact(Need.Exe)]
    public void Version_PrintsOurVersionAndSqlite()
    {
        ProcessResult r = Exe.Run("version");
        Assert.Equal(0, r.ExitCode);
        Assert.Matches(@"^v\d+\.\d+\.\d+-aot \(sqlite 3\.(5[1-9]|[6-9]\d)\.\d+, linux-(x64|arm64)\)\n$", r.Stdout);
    }

    [RequiresTheory(Need.Exe)]
    [InlineData("replicate")]
    [InlineData("restore")]
    [InlineData("ltx")]
    [InlineData("wal")]
    [InlineData("databases")]
    [InlineData("version")]
    [InlineData("status")]
    [InlineData("reset")]
    [InlineData("reencrypt")]
    [InlineData("start")]
    [InlineData("stop")]
    [InlineData("sync")]
    [InlineData("register")]
    [InlineData("unregister")]
    [InlineData("info")]
    [InlineData("list")]
    public void Help_EveryCommand_ExitsZeroWithUsage(string command)
    {
        ProcessResult r = Exe.Run(command, "-h");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains($"litestream {command}", r.Stdout);
    }

    [RequiresFact(Need.Exe)]
    public void UnknownFlag_UsageErrorWithHint()
    {
        ProcessResult r = Exe.Run("restore", "-bogus", "file:///tmp/x");
        Assert.Equal(2, r.ExitCode);
        string[] lines = r.Stderr.TrimEnd().Split('\n');
        Assert.Equal(2, lines.Length);
        Assert.StartsWith("error: ", lines[0]);
        Assert.Equal("hint: run 'litestream restore -h' for usage", lines[1]);
    }

    [RequiresFact(Need.Exe)]
    public void Restore_UrlWithoutOutput_UsageError()
    {
        ProcessResult r = Exe.Run("restore", "file:///tmp/nowhere");
        Assert.Equal(2, r.ExitCode);
        Assert.Equal("error: output path required when restoring from a replica URL\nhint: add -o PATH\n", r.Stderr);
    }

    [RequiresFact(Need.Exe)]
    public void Restore_EmptyReplica_NoBackupErrorAndNoOutput()
    {
        string dir = TestRepo.TempDir();
        ProcessResult r = Exe.Run("restore", "-o", $"{dir}/out.db", $"file://{dir}/replica");
        Assert.Equal(1, r.ExitCode);
        Assert.StartsWith("error: no backups available: the replica has no ltx files\nhint: ", r.Stderr);
        Assert.False(File.Exists($"{dir}/out.db"));
    }

    [RequiresFact(Need.Exe)]
    public void Restore_IfReplicaExists_EmptyReplicaExitsZero()
    {
        string dir = TestRepo.TempDir();
        ProcessResult r = Exe.Run("restore", "-if-replica-exists", "-o", $"{dir}/out.db", $"file://{dir}/replica");
        Assert.Equal(0, r.ExitCode);
        Assert.False(File.Exists($"{dir}/out.db"));
    }

    [RequiresFact(Need.Exe)]
    public void Restore_IfDbNotExists_ExistingDbExitsZeroUntouched()
    {
        string dir = TestRepo.TempDir();
        File.WriteAllText($"{dir}/out.db", "existing");
        ProcessResult r = Exe.Run("restore", "-if-db-not-exists", "-o", $"{dir}/out.db", $"file://{dir}/replica");
        Assert.Equal(0, r.ExitCode);
        Assert.Equal("existing", File.ReadAllText($"{dir}/out.db"));
    }

    [RequiresFact(Need.Exe)]
    public void Restore_BadTxid_UsageError()
    {
        ProcessResult r = Exe.Run("restore", "-txid", "12", "-o", "/tmp/x.db", "file:///tmp/r");
        Assert.Equal(2, r.ExitCode);
        Assert.StartsWith("error: invalid -txid \"12\": expected 16 hex digits\n", r.Stderr);
    }

    [RequiresFact(Need.Exe)]
    public void Replicate_MissingConfig_ErrorNamesPath()
    {
        ProcessResult r = Exe.Run("replicate", "-config", "/nonexistent/litestream.yml");
        Assert.Equal(1, r.ExitCode);
        Assert.StartsWith("error: config file not found: /nonexistent/litestream.yml\nhint: ", r.Stderr);
    }

    [RequiresFact(Need.Exe)]
    public void Replicate_UnknownConfigKey_ErrorNamesKeyAndLine()
    {
        string dir = TestRepo.TempDir();
        File.WriteAllText($"{dir}/c.yml", $"dbs:\n  - path: {dir}/x.db\n    replica:\n      url: file://{dir}/r\n      sync-intervall: 1s\n");
        ProcessResult r = Exe.Run("replicate", "-config", $"{dir}/c.yml");
        Assert.Equal(1, r.ExitCode);
        Assert.StartsWith("error: dbs[0].replica.sync-intervall: unknown key (line 5)\n", r.Stderr);
    }

    [RequiresFact(Need.Exe)]
    public void Replicate_UnknownScheme_UsageError()
    {
        ProcessResult r = Exe.Run("replicate", "/tmp/x.db", "ftp://host/path");
        Assert.Equal(2, r.ExitCode);
        Assert.StartsWith("error: unknown replica url scheme \"ftp\" in \"ftp://host/path\"\n", r.Stderr);
    }

    [RequiresFact(Need.Exe)]
    public void Databases_ListsConfiguredDbsAsJson()
    {
        string dir = TestRepo.TempDir();
        File.WriteAllText($"{dir}/c.yml", "dbs:\n  - path: a.db\n    replica:\n      url: sftp://u:secret@h/p\n");
        ProcessResult r = Exe.Run("databases", "-json", "-config", $"{dir}/c.yml");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains($"\"path\": \"{dir}/a.db\"", r.Stdout);
        Assert.Contains("sftp://REDACTED@h/p", r.Stdout);
        Assert.DoesNotContain("secret", r.Stdout);
    }

    [RequiresFact(Need.Exe)]
    public void Databases_ReplicaWithoutUrl_DescribedFromItsSettings()
    {
        // Issue 17 item 14: "bucket: bkt, path: c1" was printed as s3://c1.
        string dir = TestRepo.TempDir();
        File.WriteAllText($"{dir}/c.yml", "dbs:\n  - path: a.db\n    replica: {type: s3, bucket: bkt, path: c1}\n  - path: b.db\n    replica: {path: /backups/b}\n");
        ProcessResult r = Exe.Run("databases", "-config", $"{dir}/c.yml");
        Assert.Equal((0, $"{"path".PadRight(dir.Length + 7)}replica\n{dir}/a.db  s3://bkt/c1\n{dir}/b.db  /backups/b\n"), (r.ExitCode, r.Stdout));
    }

    [RequiresFact(Need.Exe, Need.Spec)]
    public void Ltx_SyntheticReplica_ListsEveryLevel()
    {
        ProcessResult r = Exe.Run("ltx", "-level", "all", $"file://{TestRepo.Spec}/testdata/synthetic/replica-file");
        Assert.Equal(0, r.ExitCode);
        string[] lines = r.Stdout.TrimEnd().Split('\n');
        Assert.Equal("level  min_txid          max_txid          size   created", lines[0]);
        Assert.Equal(["0 0000000000000001 0000000000000001 755", "0 0000000000000002 0000000000000002 17527",
            "1 0000000000000001 0000000000000002 17527", "9 0000000000000001 0000000000000002 17527"],
            lines[1..].Select(l => string.Join(' ', l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[..4])));
    }
}
