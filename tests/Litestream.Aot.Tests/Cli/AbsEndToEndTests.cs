using Azure.Core.Pipeline;
using Azure.Storage;
using Azure.Storage.Blobs;

namespace Litestream.Aot.Tests.Cli;

/// <summary>
/// The published exe replicating a database written by python3 to Azurite (litestream.yml with upstream's
/// abs keys, the key from LITESTREAM_AZURE_ACCOUNT_KEY), then restoring from an abs:// URL; and the error a
/// wrong key gives: one line naming the host and path, a hint, never the key.
/// </summary>
[Requires(Need.Python)]
public class AbsEndToEndTests
{
    /// <summary>Commits <paramref name="start"/>..<paramref name="start"/>+<paramref name="count"/>-1, five random blobs of mixed sizes each.</summary>
    private static void Write(string db, int start, int count)
        => SqliteWriter.Write(db, new Workload { Start = start, Commits = count, Batch = "5", Sizes = "10,300,3000,9000", BusyTimeoutMs = 10_000 });

    /// <summary>
    /// Writes 50 commits, replicates them and <paramref name="more"/> others to the container "backups" of
    /// <paramref name="azure"/> with <paramref name="env"/>, restores, and checks the restored content; returns the
    /// daemon's output and the restore's.
    /// </summary>
    private static (string Daemon, ProcessResult Restore) ReplicateThenRestore(Azurite azure, Dictionary<string, string> env, int more)
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        Write(db, 0, 50);
        string output;
        using (var daemon = new Replicator(db, $"""
            type: abs
            account-name: {Azurite.Account}
            bucket: backups
            path: app
            endpoint: {azure.Endpoint}
            sync-interval: 100ms
            """, env))
        {
            Write(db, 50, more);
            daemon.CaughtUp();
            Assert.Equal(0, daemon.Stop());
            Assert.DoesNotContain("level=ERROR", daemon.Output);
            output = daemon.Output;
        }
        string expected = SqliteWriter.Dump(db);
        Assert.StartsWith($"ok {(50 + more) * 5} ", expected);
        string restored = Path.Combine(dir, "restored.db");
        ProcessResult r = Exe.Run(env, "restore", "-integrity-check", "full", "-o", restored, azure.Url("backups", "app"));
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(expected, SqliteWriter.Dump(restored));
        return (output, r);
    }

    [RequiresFact(Need.Exe, Need.Azurite)]
    public void Replicate_ToAzurite_ThenRestore_SameContent()
    {
        using var azure = new Azurite();
        new BlobContainerClient(new Uri($"{azure.Endpoint}/backups"), new StorageSharedKeyCredential(Azurite.Account, Azurite.Key)).CreateIfNotExists();
        var env = new Dictionary<string, string> { ["LITESTREAM_AZURE_ACCOUNT_KEY"] = Azurite.Key };
        (string daemon, ProcessResult r) = ReplicateThenRestore(azure, env, 250);
        Assert.DoesNotContain(Azurite.Key, daemon);
        Assert.DoesNotContain(Azurite.Key, r.Stdout + r.Stderr);

        ProcessResult ltx = Exe.Run(env, "ltx", "-level", "all", azure.Url("backups", "app"));
        Assert.Equal(0, ltx.ExitCode);
        Assert.Contains("\n0 ", ltx.Stdout);
    }

    [RequiresFact(Need.Exe, Need.Azurite)]
    public void Restore_WrongKey_OneErrorLineAndHint_NeverTheKey()
    {
        using var azure = new Azurite();
        const string wrongKey = "d3Jvbmcta2V5LXRoYXQtbXVzdC1uZXZlci1sZWFrLTAxMjM0NTY3ODk=";
        var env = new Dictionary<string, string> { ["LITESTREAM_AZURE_ACCOUNT_KEY"] = wrongKey };
        string dir = TestRepo.TempDir();
        ProcessResult r = Exe.Run(env, "restore", "-o", Path.Combine(dir, "out.db"), azure.Url("backups", "app"));
        Assert.Equal(1, r.ExitCode);
        string[] lines = r.Stderr.TrimEnd().Split('\n');
        Assert.StartsWith($"error: abs: list {azure.Endpoint}/backups/app/ltx/", lines[^2]);
        Assert.Contains("(HTTP 403)", lines[^2]);
        Assert.StartsWith("hint: check account-name and account-key or sas-token", lines[^1]);
        Assert.DoesNotContain(wrongKey, r.Stdout + r.Stderr);
        Assert.False(File.Exists(Path.Combine(dir, "out.db")));
    }

    /// <summary>
    /// No key, no SAS: the exe gets a managed identity's token from IMDS (a loopback stand-in named by
    /// AZURE_POD_IDENTITY_AUTHORITY_HOST) and Azurite (TLS, --oauth basic, its certificate trusted through
    /// SSL_CERT_FILE) accepts it for every request of a replicate and a restore.
    /// </summary>
    [RequiresFact(Need.Exe, Need.Azurite)]
    public void Replicate_ToAzuriteWithManagedIdentityToken_ThenRestore_SameContent()
    {
        using var tokens = new EntraTokenEndpoint();
        using var azure = Azurite.WithOAuth();
        var handler = new SocketsHttpHandler();
        azure.Trust(handler);
        new BlobContainerClient(new Uri($"{azure.Endpoint}/backups"), new StorageSharedKeyCredential(Azurite.Account, Azurite.Key),
            new BlobClientOptions { Transport = new HttpClientTransport(new HttpClient(handler)) }).CreateIfNotExists();
        var env = new Dictionary<string, string>
        {
            ["AZURE_POD_IDENTITY_AUTHORITY_HOST"] = tokens.Url,
            ["SSL_CERT_FILE"] = azure.CertificatePath!,
        };
        ReplicateThenRestore(azure, env, 80);
        Assert.All(tokens.Requests, request => Assert.Equal(("GET", "/metadata/identity/oauth2/token", "true"), (request.Method, request.Path, request.Headers["Metadata"])));
        // A token per client (the daemon's, the restore's), kept for its hour: not one per request (there were hundreds).
        Assert.InRange(tokens.Issued, 2, 4);
    }

    [RequiresFact(Need.Exe)]
    public void Restore_NoKeyNoSas_NoManagedIdentity_OneErrorLineAndHint_WithinSeconds()
    {
        using var silent = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        silent.Start();
        var env = new Dictionary<string, string> { ["AZURE_POD_IDENTITY_AUTHORITY_HOST"] = $"http://127.0.0.1:{((System.Net.IPEndPoint)silent.LocalEndpoint).Port}" };
        string dir = TestRepo.TempDir();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        ProcessResult r = Exe.Run(env, "restore", "-o", Path.Combine(dir, "out.db"), "abs://acct@backups/app");
        Assert.Equal(1, r.ExitCode);
        Assert.InRange(clock.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(30));
        string[] lines = r.Stderr.TrimEnd().Split('\n');
        Assert.StartsWith("error: abs: list https://acct.blob.core.windows.net/backups/app/ltx/", lines[^2]);
        Assert.EndsWith("get a token for the managed identity at IMDS (no account-key, sas-token or AZURE_CLIENT_SECRET) from "
            + $"{env["AZURE_POD_IDENTITY_AUTHORITY_HOST"]}/metadata/identity/oauth2/token: no answer within 3s", lines[^2]);
        Assert.StartsWith("hint: off Azure, set account-key or sas-token", lines[^1]);
        Assert.False(File.Exists(Path.Combine(dir, "out.db")));
    }

    [RequiresFact(Need.Exe)]
    public void Version_Verbose_ListsEveryBackend()
    {
        ProcessResult r = Exe.Run("version", "-verbose");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("backends: abs, file, gs, nats, oss, s3, sftp, webdav, webdavs\n", r.Stdout);
    }
}
