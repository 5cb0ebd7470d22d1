using System.Diagnostics;

namespace Litestream.Aot.Tests.Cli;

/// <summary>
/// The published exe replicating a database written by python3 to each real WebDAV server (litestream.yml with
/// upstream's webdav keys), then restoring from a webdav:// URL with the login in it; and the errors of a wrong
/// password, an unreachable host and a missing path: one error line naming the backend, URL and cause, a hint,
/// never the password.
/// </summary>
[Requires(Need.Python)]
public class WebDavEndToEndTests
{
    /// <summary>Commits <paramref name="start"/>..<paramref name="start"/>+<paramref name="count"/>-1, five random blobs of mixed sizes each.</summary>
    private static void Write(string db, int start, int count)
        => SqliteWriter.Write(db, new Workload { Start = start, Commits = count, Batch = "5", Sizes = "10,300,3000,9000", BusyTimeoutMs = 10_000 });

    [RequiresFact(Need.Exe, Need.Rclone)]
    public void Replicate_ToRclone_ThenRestore_SameContent()
    {
        using var server = new RcloneWebDav();
        ReplicateThenRestore(server);
    }

    [RequiresFact(Need.Exe, Need.NginxDav)]
    public void Replicate_ToNginx_ThenRestore_SameContent()
    {
        using var server = new NginxDav();
        ReplicateThenRestore(server);
    }

    private static void ReplicateThenRestore(WebDavServer server)
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        Write(db, 0, 50);

        using (var daemon = new Replicator(db, $"""
            type: webdav
            webdav-url: {server.Url}
            webdav-username: {WebDavServer.User}
            webdav-password: {WebDavServer.Password}
            path: backups/app
            sync-interval: 100ms
            """))
        {
            Write(db, 50, 250);
            daemon.CaughtUp();
            Assert.Equal(0, daemon.Stop());
            Assert.DoesNotContain("level=ERROR", daemon.Output);
            Assert.DoesNotContain(WebDavServer.Password, daemon.Output);
        }
        string expected = SqliteWriter.Dump(db);
        Assert.StartsWith("ok 1500 ", expected);

        // The files are upstream's layout under the path on the server, with no temporary upload left behind.
        string level0 = Path.Combine(server.DataDirectory, "backups", "app", "ltx", "0");
        Assert.NotEmpty(Directory.GetFiles(level0, "*.ltx"));
        Assert.Empty(Directory.GetFiles(Path.Combine(server.DataDirectory, "backups", "app"), "*.tmp", SearchOption.AllDirectories));

        string restored = Path.Combine(dir, "restored.db");
        ProcessResult r = Exe.Run("restore", "-integrity-check", "full", "-o", restored, server.ReplicaUrl("backups/app"));
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(expected, SqliteWriter.Dump(restored));
        Assert.DoesNotContain(WebDavServer.Password, r.Stdout + r.Stderr);

        ProcessResult ltx = Exe.Run("ltx", "-level", "all", server.ReplicaUrl("backups/app"));
        Assert.Equal(0, ltx.ExitCode);
        Assert.Contains("\n0 ", ltx.Stdout);
    }

    [RequiresFact(Need.Exe, Need.NginxDav)]
    public void Restore_WrongPassword_OneErrorLineAndHint_NeverThePassword()
    {
        using var server = new NginxDav();
        const string wrong = "wrong-dav-password-5521";
        string dir = TestRepo.TempDir();
        ProcessResult r = Exe.Run("restore", "-o", Path.Combine(dir, "out.db"), $"webdav://{WebDavServer.User}:{wrong}@127.0.0.1:{server.Port}/backups/app");
        Assert.Equal(1, r.ExitCode);
        string[] lines = r.Stderr.TrimEnd().Split('\n');
        Assert.Equal($"error: webdav: connect {server.Url}/backups/app: login refused (401 Unauthorized)", lines[^2]);
        Assert.Equal($"hint: check webdav-username \"{WebDavServer.User}\" and webdav-password (or user:password@ in the replica URL)", lines[^1]);
        Assert.DoesNotContain(wrong, r.Stdout + r.Stderr);
        Assert.False(File.Exists(Path.Combine(dir, "out.db")));
    }

    [RequiresFact(Need.Exe)]
    public void Restore_UnreachableHost_FailsWithinTheConnectLimit_NeverThePassword()
    {
        // TEST-NET-1 (RFC 5737) never answers; the connect limit from the environment bounds the wait.
        var env = new Dictionary<string, string> { ["LITESTREAM_STORAGE_CONNECT_TIMEOUT"] = "2s" };
        string dir = TestRepo.TempDir();
        var clock = Stopwatch.StartNew();
        ProcessResult r = Exe.Run(env, "restore", "-o", Path.Combine(dir, "out.db"), $"webdav://u:{WebDavServer.Password}@192.0.2.1:8080/backups/app");
        Assert.InRange(clock.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(60));
        Assert.Equal(1, r.ExitCode);
        string[] lines = r.Stderr.TrimEnd().Split('\n');
        Assert.StartsWith("error: webdav: connect http://192.0.2.1:8080/backups/app: ", lines[^2]);
        Assert.StartsWith("hint: check ", lines[^1]);
        Assert.DoesNotContain(WebDavServer.Password, r.Stdout + r.Stderr);
    }
}
