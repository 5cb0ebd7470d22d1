namespace Litestream.Aot.Tests.Cli;

/// <summary>
/// The published exe replicating a database written by python3 to a local nats-server -js (litestream.yml with a
/// <c>nats://host:port/bucket/path</c> URL and upstream's username/password keys), then restoring from it; and the
/// errors a user meets: a wrong password, a missing bucket, an unreachable server, each one error line naming the
/// backend, server, bucket and path, a hint, no secret, in bounded time.
/// </summary>
[Requires(Need.Python)]
public class NatsEndToEndTests
{
    private static void Write(string db, int start, int count)
        => SqliteWriter.Write(db, new Workload { Start = start, Commits = count, Batch = "5", Sizes = "10,300,3000,9000", BusyTimeoutMs = 10_000 });

    [RequiresFact(Need.Exe, Need.NatsServer)]
    public async Task Replicate_ToNats_ThenRestore_SameContent()
    {
        using var nats = new NatsServer();
        await nats.CreateBucketAsync("backups");
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        Write(db, 0, 50);

        using (var daemon = new Replicator(db, ReplicaYaml(nats, "backups", nats.Password)))
        {
            Write(db, 50, 250);
            daemon.CaughtUp();
            Assert.Equal(0, daemon.Stop());
            Assert.DoesNotContain("level=ERROR", daemon.Output);
            Assert.DoesNotContain(nats.Password, daemon.Output);
        }
        string expected = SqliteWriter.Dump(db);
        Assert.StartsWith("ok 1500 ", expected);

        // Upstream's layout under the URL's path inside the bucket.
        var names = new List<string>();
        await nats.WithBucketAsync("backups", async store =>
        {
            await foreach (var meta in store.ListAsync())
            {
                names.Add(meta.Name);
            }
        });
        Assert.Contains(names, n => n.StartsWith("dbs/app/ltx/0/", StringComparison.Ordinal) && n.EndsWith(".ltx", StringComparison.Ordinal));

        string config = WriteConfig(nats, dir, db, "backups", nats.Password);
        string restored = Path.Combine(dir, "restored.db");
        ProcessResult r = Exe.Run("restore", "-config", config, "-integrity-check", "full", "-o", restored, db);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(expected, SqliteWriter.Dump(restored));
        Assert.DoesNotContain(nats.Password, r.Stdout + r.Stderr);
    }

    [RequiresFact(Need.Exe, Need.NatsServer)]
    public async Task Replicate_ServerRestartsMidway_WithinMaxReconnects_RestoreHasEveryCommit()
    {
        using var nats = new NatsServer();
        await nats.CreateBucketAsync("backups");
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        Write(db, 0, 50);
        string replica = ReplicaYaml(nats, "backups", nats.Password) + "\nmax-reconnects: 100\nreconnect-wait: 250ms";

        using (var daemon = new Replicator(db, replica))
        {
            Write(db, 50, 100);
            daemon.CaughtUp();
            nats.Kill();
            Write(db, 150, 100); // committed while the server is down
            nats.Start();
            Write(db, 250, 50);
            daemon.CaughtUp();
            Assert.Equal(0, daemon.Stop());
            Assert.DoesNotContain(nats.Password, daemon.Output);
            Assert.DoesNotContain("reconnect attempts", daemon.Output);
        }
        string expected = SqliteWriter.Dump(db);
        Assert.StartsWith("ok 1500 ", expected);
        string restored = Path.Combine(dir, "restored.db");
        ProcessResult r = Exe.Run("restore", "-config", WriteConfig(nats, dir, db, "backups", nats.Password), "-integrity-check", "full", "-o", restored, db);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(expected, SqliteWriter.Dump(restored));
    }

    [RequiresFact(Need.Exe, Need.NatsServer)]
    public async Task Replicate_ServerGone_MaxReconnectsZero_OneErrorNamingServerAndBucket()
    {
        using var nats = new NatsServer();
        await nats.CreateBucketAsync("backups");
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        Write(db, 0, 20);

        using var daemon = new Replicator(db, ReplicaYaml(nats, "backups", nats.Password) + "\nmax-reconnects: 0");
        daemon.CaughtUp();
        nats.Kill();
        Write(db, 20, 20);
        string expected = $"nats: connect nats://{nats.HostPort}/backups/dbs/app: the connection was lost and not restored after 0 reconnect attempts (max-reconnects 0)";
        Wait.Until(() => daemon.Output.Contains(expected, StringComparison.Ordinal), "replicate to log that it gave up reconnecting");
        Assert.DoesNotContain(nats.Password, daemon.Output);
    }

    [RequiresFact(Need.Exe, Need.NatsServer)]
    public async Task Restore_WrongPassword_OneErrorLine_NoSecret()
    {
        using var nats = new NatsServer();
        await nats.CreateBucketAsync("backups");
        const string password = "wrong-password-never-printed";
        (ProcessResult r, string output) = Restore(nats, "backups", password);
        Assert.Equal(1, r.ExitCode);
        string[] lines = r.Stderr.TrimEnd().Split('\n');
        Assert.Equal($"error: nats: connect nats://{nats.HostPort}/backups/dbs/app: authorization refused by the server", lines[^2]);
        Assert.Equal("hint: check username and password, token, nkey, creds or jwt and seed", lines[^1]);
        Assert.DoesNotContain(password, r.Stdout + r.Stderr);
        Assert.False(File.Exists(output));
    }

    [RequiresFact(Need.Exe, Need.NatsServer)]
    public void Restore_MissingBucket_OneErrorLineNamingIt()
    {
        using var nats = new NatsServer();
        (ProcessResult r, string output) = Restore(nats, "nobucket", nats.Password);
        Assert.Equal(1, r.ExitCode);
        string[] lines = r.Stderr.TrimEnd().Split('\n');
        Assert.Equal($"error: nats: connect nats://{nats.HostPort}/nobucket/dbs/app: bucket \"nobucket\" not found", lines[^2]);
        Assert.StartsWith("hint: create it first (nats object add nobucket)", lines[^1]);
        Assert.DoesNotContain(nats.Password, r.Stdout + r.Stderr);
        Assert.False(File.Exists(output));
    }

    [RequiresFact(Need.Exe)]
    public void Restore_UnreachableServer_FailsInBoundedTime()
    {
        int port = LocalServer.FreePort();
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        string config = Path.Combine(dir, "litestream.yml");
        File.WriteAllText(config, $"dbs:\n  - path: {db}\n    replica:\n      url: nats://127.0.0.1:{port}/backups/dbs/app\n      username: litestream\n      password: s3cr3t-unreachable\n      timeout: 2s\n");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        ProcessResult r = Exe.Run("restore", "-config", config, "-o", Path.Combine(dir, "out.db"), db);
        Assert.InRange(clock.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(30));
        Assert.Equal(1, r.ExitCode);
        string[] lines = r.Stderr.TrimEnd().Split('\n');
        Assert.StartsWith($"error: nats: connect nats://127.0.0.1:{port}/backups/dbs/app: ", lines[^2]);
        Assert.Equal("hint: check host and port (the replica URL) and the network", lines[^1]);
        Assert.DoesNotContain("s3cr3t-unreachable", r.Stdout + r.Stderr);
    }

    private static (ProcessResult Result, string Output) Restore(NatsServer nats, string bucket, string password)
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        string config = WriteConfig(nats, dir, db, bucket, password);
        string output = Path.Combine(dir, "out.db");
        return (Exe.Run("restore", "-config", config, "-o", output, db), output);
    }

    /// <summary>The lines under <c>replica:</c>: the URL names server, bucket and path; the credentials are upstream's keys.</summary>
    private static string ReplicaYaml(NatsServer nats, string bucket, string password) => $"""
        url: nats://{nats.HostPort}/{bucket}/dbs/app
        username: {NatsServer.User}
        password: {password}
        sync-interval: 100ms
        """;

    private static string WriteConfig(NatsServer nats, string dir, string db, string bucket, string password)
    {
        string config = Path.Combine(dir, "litestream.yml");
        string replica = string.Join('\n', ReplicaYaml(nats, bucket, password).Trim().Split('\n').Select(l => "      " + l.Trim()));
        File.WriteAllText(config, $"dbs:\n  - path: {db}\n    replica:\n{replica}\n");
        return config;
    }
}
