using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Litestream.Aot.Tests.Cli;

/// <summary>
/// Issue 18, "the first hour of a new user", through the published exe: the demo config from any working directory,
/// and the exact messages, exit codes and output a new user meets.
/// </summary>
[Requires(Need.Python)]
public class FirstHourTests
{
    /// <summary>Environment with no S3 credential anywhere the SDK looks (and no profile files).</summary>
    private static Dictionary<string, string> NoCredentials(string home) => new()
    {
        ["HOME"] = home,
        ["LITESTREAM_ACCESS_KEY_ID"] = "", ["LITESTREAM_SECRET_ACCESS_KEY"] = "",
        ["AWS_ACCESS_KEY_ID"] = "", ["AWS_SECRET_ACCESS_KEY"] = "", ["AWS_SESSION_TOKEN"] = "", ["AWS_PROFILE"] = "",
        ["AWS_SHARED_CREDENTIALS_FILE"] = Path.Combine(home, "no-credentials"), ["AWS_CONFIG_FILE"] = Path.Combine(home, "no-config"),
        ["AWS_WEB_IDENTITY_TOKEN_FILE"] = "", ["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"] = "", ["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = "",
        ["AWS_EC2_METADATA_DISABLED"] = "",
    };

    [RequiresFact(Need.Exe)]
    public void DemoConfig_FromAnotherWorkingDirectory_ReplicaLandsBesideTheDatabase()
    {
        // The repository's examples/litestream.yml, in a copy of its layout: <root>/examples/litestream.yml names
        // ../demo/app.db and ../demo/replica. The tests run in their bin directory, not <root>.
        string root = TestRepo.TempDir();
        Directory.CreateDirectory(Path.Combine(root, "examples"));
        Directory.CreateDirectory(Path.Combine(root, "demo"));
        string config = Path.Combine(root, "examples", "litestream.yml");
        File.Copy(TestRepo.Path("examples", "litestream.yml"), config);
        Assert.NotEqual(root, Environment.CurrentDirectory);
        SqliteWriter.Write(Path.Combine(root, "demo", "app.db"), 5);

        ProcessResult databases = Exe.Run("databases", "-config", config);
        string db = Path.Combine(root, "demo", "app.db"), replica = Path.Combine(root, "demo", "replica");
        Assert.Equal((0, $"{"path".PadRight(db.Length + 2)}replica\n{db}  {replica}\n"), (databases.ExitCode, databases.Stdout));

        ProcessResult once = Exe.Run("replicate", "-once", "-config", config);
        Assert.True(once.ExitCode == 0, once.Stderr);
        Assert.True(File.Exists(Path.Combine(replica, "ltx", "0", "0000000000000001-0000000000000001.ltx")), "the replica is not in <root>/demo/replica");
        Assert.False(Directory.Exists(Path.Combine(Environment.CurrentDirectory, "..", "demo")));
    }

    [RequiresFact(Need.Exe)]
    public void S3WithoutCredentials_OneLineNamingTheBucketAndWhatIsMissing_MetadataProbeBounded()
    {
        string home = TestRepo.TempDir();
        using var metadata = new SilentServer();
        Dictionary<string, string> env = NoCredentials(home);
        env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = $"http://127.0.0.1:{metadata.Port}";
        var clock = Stopwatch.StartNew();
        ProcessResult r = Exe.RunWithin(TimeSpan.FromSeconds(60), env, "restore", "-o", Path.Combine(home, "out.db"), "s3://my-bucket/app.db?endpoint=http://127.0.0.1:9&region=us-east-1");
        clock.Stop();
        Assert.Equal(1, r.ExitCode);
        Assert.Equal(
            "error: s3://my-bucket: no credentials: LITESTREAM_ACCESS_KEY_ID/LITESTREAM_SECRET_ACCESS_KEY and AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY "
            + "are not set, the replica config has no access-key-id/secret-access-key, there is no AWS profile \"default\", and no EC2 instance role answered within 5s\n"
            + "hint: export LITESTREAM_ACCESS_KEY_ID and LITESTREAM_SECRET_ACCESS_KEY, or set access-key-id and secret-access-key in the replica's config, "
            + "or AWS_PROFILE to a profile in ~/.aws/credentials\n",
            r.Stderr);
        Assert.True(metadata.Connections > 0, "the instance metadata service was not asked");
        // Bounded by the 5 s probe limit (the SDK's own worst case is 35 s); the slack is for a loaded machine.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed}");
        Assert.False(File.Exists(Path.Combine(home, "out.db")));
    }

    [RequiresFact(Need.Exe)]
    public void Replicate_PathThatIsNotSqlite_ErrorNamesIt_LeavesNoMetaDirectory()
    {
        string dir = TestRepo.TempDir();
        string path = Path.Combine(dir, "notes.txt");
        File.WriteAllText(path, "not a database\n");
        ProcessResult r = Exe.Run("replicate", "-once", path, $"file://{dir}/replica");
        Assert.Equal(1, r.ExitCode);
        Assert.Equal($"error: {path}: not an SQLite database (SQLite Error 26: 'file is not a database'.)\n", r.Stderr);
        Assert.Equal(["notes.txt"], Directory.GetFileSystemEntries(dir).Select(Path.GetFileName));
    }

    [RequiresFact(Need.Exe)]
    public void Replicate_FailingReplica_BackoffPrintedAsGoDurations()
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        SqliteWriter.Write(db, 5);
        File.WriteAllText(Path.Combine(dir, "replica"), "a file where the replica directory should be\n");
        string config = Path.Combine(dir, "c.yml");
        File.WriteAllText(config, $"shutdown-sync-timeout: 1s\ndbs:\n  - path: {db}\n    replica:\n      path: {dir}/replica\n      sync-interval: 500ms\n");
        using BackgroundProcess replicate = Exe.Start("replicate", "-config", config);
        Wait.Until(() => replicate.Output.Contains("retrying in 2s)", StringComparison.Ordinal), "three failed uploads", replicate);
        foreach (string delay in new[] { "500ms", "1s", "2s" })
        {
            Assert.Contains($"level=ERROR msg=\"replica file://{dir}/replica for {db} failed (retrying in {delay}): ", replicate.Output);
        }
        Assert.DoesNotContain("00:00:0", replicate.Output);
        Assert.Equal(1, replicate.Stop()); // the final sync cannot reach the replica either
        Assert.Contains("the final sync gave up after 1s: ", replicate.Output);
    }

    [RequiresFact(Need.Exe)]
    public void RestoreJson_PrintsWhatWasRestored()
    {
        string dir = ReplicatedDatabase(50);
        string output = Path.Combine(dir, "out.db");
        ProcessResult r = Exe.Run("restore", "-json", "-o", output, $"file://{dir}/replica");
        Assert.True(r.ExitCode == 0, r.Stderr);
        long bytes = new FileInfo(output).Length;
        Assert.Matches(
            "^\\{\n"
            + $"  \"db_path\": \"{Regex.Escape(output)}\",\n"
            + "  \"replica\": \"file\",\n"
            + "  \"txid\": \"0000000000000001\",\n"
            + "  \"duration_ms\": [0-9]+,\n"
            + "  \"integrity_check\": \"quick\",\n"
            + $"  \"bytes\": {bytes},\n"
            + "  \"files\": 1\n"
            + "\\}\n$",
            r.Stdout);
        Assert.Equal($"restored {output} to txid 0000000000000001 from 1 file(s) ({bytes} bytes)\n", r.Stderr);
    }

    [RequiresFact(Need.Exe)]
    public void Restore_TimestampBeforeTheReplica_SaysSoWithATimestampHint()
    {
        string dir = ReplicatedDatabase(5);
        ProcessResult r = Exe.Run("restore", "-timestamp", "2001-01-01T00:00:00Z", "-o", Path.Combine(dir, "out.db"), $"file://{dir}/replica");
        Assert.Equal((1,
            "error: no state at or before 2001-01-01T00:00:00Z on the replica: every file it holds is newer\n"
            + $"hint: 'litestream ltx -level all file://{dir}/replica' lists each file's created time; pick a later -timestamp\n"), (r.ExitCode, r.Stderr));
    }

    [RequiresTheory(Need.Exe)]
    [InlineData("restore", "-o", "/tmp/x.db", "ftp://host/path")]
    [InlineData("ltx", "ftp://host/path")]
    [InlineData("replicate", "/tmp/x.db", "ftp://host/path")]
    public void UnknownSchemeOnTheCommandLine_UsageErrorInEveryCommand(params string[] args)
    {
        ProcessResult r = Exe.Run(args);
        Assert.Equal((2, "error: unknown replica url scheme \"ftp\" in \"ftp://host/path\"\n"
            + $"hint: replica URLs look like file:///path or s3://bucket/path; this build has {string.Join(", ", Litestream.Storage.ReplicaClientFactory.Names)}\n"), (r.ExitCode, r.Stderr));
    }

    [RequiresTheory(Need.Exe)]
    [InlineData("status", "hint: pass -config PATH or set LITESTREAM_CONFIG\n")]
    [InlineData("databases", "hint: pass -config PATH or set LITESTREAM_CONFIG\n")]
    [InlineData("restore", "hint: pass -config PATH or set LITESTREAM_CONFIG, or give the replica URL instead of the database path\n")]
    [InlineData("replicate", "hint: pass -config PATH or set LITESTREAM_CONFIG, or run 'litestream replicate DB_PATH REPLICA_URL'\n")]
    public void ConfigNotFound_HintFitsTheCommand(string command, string hint)
    {
        string[] args = command == "restore" ? [command, "-config", "/nonexistent/l.yml", "/tmp/app.db"] : [command, "-config", "/nonexistent/l.yml"];
        ProcessResult r = Exe.Run(args);
        Assert.Equal((1, "error: config file not found: /nonexistent/l.yml\n" + hint), (r.ExitCode, r.Stderr));
    }

    [RequiresFact(Need.Exe)]
    public void Snapshots_V03Command_AnsweredWithItsReplacement()
    {
        ProcessResult r = Exe.Run("snapshots", "/var/lib/app.db");
        Assert.Equal((2, "error: \"snapshots\" was removed in Litestream v0.5: snapshots are the LTX files at level 9 of a replica\n"
            + "hint: litestream ltx -level 9 DB_PATH|REPLICA_URL\n"), (r.ExitCode, r.Stderr));
    }

    [RequiresFact(Need.Exe)]
    public void EnforceRetention_WithOnce_Runs_WithoutOnce_UsageError()
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        SqliteWriter.Write(db, 5);
        string config = Path.Combine(dir, "c.yml");
        File.WriteAllText(config, $"snapshot:\n  retention: 1h\ndbs:\n  - path: {db}\n    replica:\n      url: file://{dir}/replica\n");
        ProcessResult usage = Exe.Run("replicate", "-enforce-retention", "-config", config);
        Assert.Equal((2, "error: -enforce-retention requires -once\n"
            + "hint: the daemon enforces snapshot.retention after every snapshot; -once -enforce-retention does it now\n"), (usage.ExitCode, usage.Stderr));
        ProcessResult once = Exe.Run("replicate", "-once", "-enforce-retention", "-config", config);
        Assert.True(once.ExitCode == 0, once.Stderr);
        Assert.Contains($"level=INFO msg=\"retention {db}: deleted 0 replica files (snapshots older than 1h0m0s and the files they replace)\"", once.Stderr);
    }

    /// <summary>A directory holding app.db with <paramref name="rows"/> rows and its replica in replica/, made by replicate -once.</summary>
    private static string ReplicatedDatabase(int rows)
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        SqliteWriter.Write(db, rows);
        ProcessResult once = Exe.Run("replicate", "-once", db, $"file://{dir}/replica");
        Assert.True(once.ExitCode == 0, once.Stderr);
        return dir;
    }
}
