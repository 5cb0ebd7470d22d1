namespace Litestream.Aot.Tests.Cli;

/// <summary>
/// The published exe replicating a database written by python3 to a local GCS JSON API (firebase-tools' emulator,
/// reached through <c>STORAGE_EMULATOR_HOST</c> as Google's SDKs reach one) with a <c>gs://bucket/path</c> URL, then
/// restoring from it; and the error a user meets with an unusable credentials file: one line, a hint, no secret.
/// </summary>
[Requires(Need.Python)]
public class GsEndToEndTests
{
    private static void Write(string db, int start, int count)
        => SqliteWriter.Write(db, new Workload { Start = start, Commits = count, Batch = "5", Sizes = "10,300,3000,9000", BusyTimeoutMs = 10_000 });

    [RequiresFact(Need.Exe, Need.GcsEmulator)]
    public async Task Replicate_ToGcs_ThenRestore_SameContent()
    {
        using var gcs = new GcsEmulator();
        var env = new Dictionary<string, string> { ["STORAGE_EMULATOR_HOST"] = gcs.Host };
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        Write(db, 0, 50);

        using (var daemon = Replicator.ToUrl(db, "gs://backups/dbs/app", env))
        {
            Write(db, 50, 250);
            daemon.CaughtUp();
            Assert.Equal(0, daemon.Stop());
            Assert.DoesNotContain("level=ERROR", daemon.Output);
        }
        string expected = SqliteWriter.Dump(db);
        Assert.StartsWith("ok 1500 ", expected);

        // Upstream's layout under the URL's path, with the LTX time as upstream's metadata key.
        using var http = new HttpClient();
        string listing = await http.GetStringAsync($"http://{gcs.Host}/storage/v1/b/backups/o?prefix=dbs/app/ltx/0/");
        Assert.Matches("\"name\":\"dbs/app/ltx/0/[0-9a-f]{16}-[0-9a-f]{16}\\.ltx\"", listing);
        Assert.Contains("\"litestream-timestamp\":\"20", listing, StringComparison.Ordinal);

        string restored = Path.Combine(dir, "restored.db");
        ProcessResult r = Exe.Run(env, "restore", "-integrity-check", "full", "-o", restored, "gs://backups/dbs/app");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(expected, SqliteWriter.Dump(restored));
    }

    [RequiresFact(Need.Exe)]
    public void Restore_UnusableCredentialsFile_OneErrorLine_NoSecret()
    {
        string dir = TestRepo.TempDir();
        string key = Path.Combine(dir, "key.json");
        File.WriteAllText(key, """{"type":"service_account","client_email":"x@p.iam.gserviceaccount.com","private_key":"-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1uZXZlci1wcmludGVk\n-----END PRIVATE KEY-----\n"}""");
        var env = new Dictionary<string, string> { ["GOOGLE_APPLICATION_CREDENTIALS"] = key, ["STORAGE_EMULATOR_HOST"] = "" };
        ProcessResult r = Exe.Run(env, "restore", "-o", Path.Combine(dir, "out.db"), "gs://backups/dbs/app");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains($"gs: GOOGLE_APPLICATION_CREDENTIALS {key}: private_key is not a PEM RSA private key", r.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("c2VjcmV0LWtleS1uZXZlci1wcmludGVk", r.Stdout + r.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(dir, "out.db")));
    }
}
