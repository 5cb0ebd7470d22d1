
namespace Litestream.Aot.Tests.Cli;

/// <summary>
/// The published exe replicating a database written by python3 to a local s3rver through an s3:// URL
/// with credentials from LITESTREAM_ACCESS_KEY_ID/SECRET, then restoring from it (latest, and by
/// timestamp, which reads the objects' litestream-timestamp metadata).
/// </summary>
[Requires(Need.Python)]
public class S3EndToEndTests
{
    /// <summary>Commits <paramref name="start"/>..<paramref name="start"/>+<paramref name="count"/>-1, five random blobs of mixed sizes each.</summary>
    private static void Write(string db, int start, int count)
        => SqliteWriter.Write(db, new Workload { Start = start, Commits = count, Batch = "5", Sizes = "10,300,3000,9000", BusyTimeoutMs = 10_000 });

    [RequiresFact(Need.Exe, Need.S3rver)]
    public void Replicate_ToS3rver_ThenRestore_SameContent()
    {
        using var s3 = new S3rver();
        var env = new Dictionary<string, string>
        {
            ["LITESTREAM_ACCESS_KEY_ID"] = S3rver.Credential,
            ["LITESTREAM_SECRET_ACCESS_KEY"] = S3rver.Credential,
        };
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        string url = s3.Url("app");
        Write(db, 0, 50);

        using (Replicator daemon = Replicator.ToUrl(db, url, env))
        {
            Write(db, 50, 250);
            daemon.CaughtUp();
            Assert.Equal(0, daemon.Stop());
            Assert.DoesNotContain("level=ERROR", daemon.Output);
            Assert.DoesNotContain(S3rver.Credential, daemon.Output);
        }
        string expected = SqliteWriter.Dump(db);
        Assert.StartsWith("ok 1500 ", expected);
        Assert.True(Directory.Exists(Path.Combine(s3.Directory, S3rver.Bucket, "app", "0000")), "S3 keys are not laid out as <path>/0000/...");

        string restored = Path.Combine(dir, "restored.db");
        ProcessResult latest = Exe.Run(env, "restore", "-integrity-check", "full", "-o", restored, url);
        Assert.True(latest.ExitCode == 0, latest.Stderr);
        Assert.Equal(expected, SqliteWriter.Dump(restored));

        string byTime = Path.Combine(dir, "by-time.db");
        string now = DateTimeOffset.UtcNow.AddSeconds(1).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);
        ProcessResult timed = Exe.Run(env, "restore", "-timestamp", now, "-o", byTime, url);
        Assert.True(timed.ExitCode == 0, timed.Stderr);
        Assert.Equal(expected, SqliteWriter.Dump(byTime));
        Assert.DoesNotContain(S3rver.Credential, latest.Stdout + latest.Stderr + timed.Stdout + timed.Stderr);
    }

    [RequiresFact(Need.Exe, Need.S3rver)]
    public void Restore_MissingBucket_NamesItWithoutEchoingCredentials()
    {
        using var s3 = new S3rver();
        const string secret = "secret-that-must-not-leak-1234";
        var env = new Dictionary<string, string>
        {
            ["LITESTREAM_ACCESS_KEY_ID"] = S3rver.Credential,
            ["LITESTREAM_SECRET_ACCESS_KEY"] = secret, // s3rver checks the key id only
        };
        string dir = TestRepo.TempDir();
        string url = s3.Url("db").Replace("s3://bkt/", "s3://no-such-bucket/", StringComparison.Ordinal);
        ProcessResult r = Exe.Run(env, "restore", "-o", Path.Combine(dir, "out.db"), url);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("s3: list s3://no-such-bucket/db/0000/: NoSuchBucket (HTTP 404): ", r.Stderr);
        Assert.DoesNotContain(secret, r.Stdout + r.Stderr);
        Assert.DoesNotContain(S3rver.Credential, r.Stdout + r.Stderr);
        Assert.False(File.Exists(Path.Combine(dir, "out.db")));
    }
}
