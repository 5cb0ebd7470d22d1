using System.Text.RegularExpressions;

namespace Litestream.Aot.Tests.Cli;

/// <summary>
/// Several replicas of one database through the published exe (issue 26 item 1): a file, an S3 (s3rver behind the
/// fault proxy) and a WebDAV replica while a real SQLite writer commits in another process.
/// </summary>
public class MultiReplicaEndToEndTests
{
    [RequiresFact(Need.Exe, Need.S3rver, Need.Rclone)]
    public async Task Replicate_ThreeReplicas_S3FailsForAWhile_OthersKeepUp_AllThreeRestoreEqual_RestoreWithoutReplicaNamesTheNewest()
    {
        using var s3 = new S3rver();
        await using var proxy = new FaultProxy(s3.Port); // the S3 replica's endpoint, restores included
        using var dav = new RcloneWebDav();
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        string socket = Path.Combine(dir, "ls.sock");
        string config = Path.Combine(dir, "litestream.yml");
        string local = Path.Combine(dir, "replica");
        string ids = Path.Combine(dir, "committed.txt");
        string stop = Path.Combine(dir, "stop");
        File.WriteAllText(config, $$"""
            socket: {enabled: true, path: {{socket}}}
            dbs:
              - path: {{db}}
                replicas:
                  - {name: local, path: {{local}}}
                  - {type: s3, bucket: {{S3rver.Bucket}}, path: app, endpoint: "{{proxy.Endpoint}}", region: us-east-1, force-path-style: true, access-key-id: {{S3rver.Credential}}, secret-access-key: {{S3rver.Credential}}}
                  - {name: dav, url: "{{dav.ReplicaUrl("app")}}"}

            """);
        using BackgroundProcess writer = SqliteWriter.Start(db, new Workload { StopFile = stop, Log = ids, Pad = 1500, Pause = 0.01, BusyTimeoutMs = 10_000 });
        using BackgroundProcess replicate = Exe.Start("replicate", "-config", config);
        Wait.For(() => Exe.Run("sync", "-wait", "-timeout", "60", "-socket", socket, db) is { ExitCode: 0 } r ? r : null, "every replica to hold the first commits", replicate);
        ProcessResult databases = Exe.Run("databases", "-config", config);
        Assert.Contains("local: " + local, databases.Stdout);
        Assert.Contains("s3: s3://", databases.Stdout);
        Assert.Contains("dav: webdav://", databases.Stdout);

        proxy.Inject(FaultProxy.Fault.InternalError);
        Wait.Until(() => Regex.IsMatch(replicate.Output, @"level=ERROR msg=""replica s3 \(s3://[^)]*\) for .* failed"), "the S3 replica to fail", replicate);
        // While S3 fails: sync -wait says which replica did not get the TXID and exits non-zero...
        ProcessResult failing = Exe.Run("sync", "-wait", "-timeout", "3", "-socket", socket, db);
        Assert.NotEqual(0, failing.ExitCode);
        Assert.Matches(@"did not reach replica s3 \(s3://", failing.Stdout + failing.Stderr);
        Assert.DoesNotContain("replica local (", failing.Stdout + failing.Stderr);
        // ...the other two keep up with the writer...
        int before = Directory.GetFiles(Path.Combine(local, "ltx", "0")).Length;
        Wait.Until(() => Directory.GetFiles(Path.Combine(local, "ltx", "0")).Length > before + 3, "the file replica to keep receiving files while S3 fails", replicate);
        // ...and restore without -replica picks one of them (S3 is unreachable: a warning), saying which.
        string during = Path.Combine(dir, "during.db");
        ProcessResult picked = Exe.Run("restore", "-config", config, "-o", during, db);
        Assert.True(picked.ExitCode == 0, picked.Stderr);
        Assert.Matches(@"level=WARN msg=""replica s3 \(s3://[^)]*\) could not be read: ", picked.Stderr);
        Assert.Single(Regex.Matches(picked.Stderr, @"level=INFO msg=""restoring from replica (local|dav) \(.*\): the newest reachable, at txid [0-9a-f]{16}"""));

        proxy.Inject(null);
        Wait.For(() => Exe.Run("sync", "-wait", "-timeout", "60", "-socket", socket, db) is { ExitCode: 0 } r ? r : null, "the S3 replica to catch up", replicate);
        File.WriteAllText(stop, "");
        writer.WaitForSuccess(TimeSpan.FromMinutes(2));
        Assert.Equal(0, replicate.Stop()); // the final sync reaches all three
        Assert.DoesNotContain(S3rver.Credential, replicate.Output);
        Assert.DoesNotContain(WebDavServer.Password, replicate.Output);

        string expected = SqliteWriter.Dump(db);
        foreach (string name in new[] { "local", "s3", "dav" })
        {
            string restored = Path.Combine(dir, $"restored-{name}.db");
            ProcessResult r = Exe.Run("restore", "-config", config, "-replica", name, "-o", restored, db);
            Assert.True(r.ExitCode == 0, r.Stderr);
            string[] check = SqliteWriter.Check(restored, ids); // integrity, top id, gaps, lost, logged
            Assert.Equal(("ok", "0", "0"), (check[0], check[2], check[3]));
            Assert.Equal(expected, SqliteWriter.Dump(restored));
        }
        // All equal now: the first of them in config order.
        string newest = Path.Combine(dir, "newest.db");
        ProcessResult chosen = Exe.Run("restore", "-config", config, "-o", newest, db);
        Assert.True(chosen.ExitCode == 0, chosen.Stderr);
        Assert.Matches(@"level=INFO msg=""restoring from replica local \(", chosen.Stderr);
        Assert.Equal(expected, SqliteWriter.Dump(newest));

        ProcessResult unknown = Exe.Run("restore", "-config", config, "-replica", "tape", "-o", Path.Combine(dir, "x.db"), db);
        Assert.NotEqual(0, unknown.ExitCode);
        Assert.Equal($"error: no replica named \"tape\" for {db}\nhint: its replicas: local, s3, dav\n", unknown.Stderr);
    }
}
