using Azure.Storage;
using Azure.Storage.Blobs;

namespace Litestream.Aot.Tests.Cli;

/// <summary>
/// v0.3 replicas on every backend v0.3 could write and this build reads: the upstream v0.3.13 binary replicates a
/// live database to s3rver, Azurite and sshd in its generations layout (one litestream.yml both programs read), and
/// our exe restores each to the source's content, saying it came from a v0.3 generation.
/// </summary>
[Requires(Need.Python)]
public class LegacyBackendInteropTests
{
    [RequiresFact(Need.Exe, Need.Upstream, Need.S3rver)]
    public void UpstreamV0313ReplicaOnS3_RestoresEqual()
    {
        using var s3 = new S3rver();
        RoundTrip($"""
            type: s3
            bucket: {S3rver.Bucket}
            path: legacy
            endpoint: {s3.Endpoint}
            region: us-east-1
            force-path-style: true
            access-key-id: {S3rver.Credential}
            secret-access-key: {S3rver.Credential}
            """);
    }

    [RequiresFact(Need.Exe, Need.Upstream, Need.Azurite)]
    public void UpstreamV0313ReplicaOnAzure_RestoresEqual()
    {
        using var azure = new Azurite();
        new BlobContainerClient(new Uri($"{azure.Endpoint}/legacy"), new StorageSharedKeyCredential(Azurite.Account, Azurite.Key)).CreateIfNotExists();
        RoundTrip($"""
            type: abs
            account-name: {Azurite.Account}
            account-key: {Azurite.Key}
            bucket: legacy
            path: app
            endpoint: {azure.Endpoint}
            """);
    }

    [RequiresFact(Need.Exe, Need.Upstream, Need.Sshd)]
    public void UpstreamV0313ReplicaOnSftp_RestoresEqual()
    {
        using var sshd = new Sshd();
        // v0.3 ignores host-key (it took any host key); this build requires it.
        RoundTrip($"""
            type: sftp
            host: {sshd.HostPort}
            user: {Sshd.User}
            key-path: {sshd.ClientKeyPath}
            path: {sshd.DataDirectory}/app
            host-key: {sshd.HostKey}
            """);
    }

    /// <summary>Upstream replicates while a writer commits; our exe restores what it wrote once it holds every commit.</summary>
    private static void RoundTrip(string replicaYaml)
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        SqliteWriter.Write(db, new Workload { Commits = 100, Pad = 700 });
        string config = Path.Combine(dir, "litestream.yml");
        string replica = string.Join('\n', replicaYaml.Trim().Split('\n').Select(static (l, i) => (i == 0 ? "      - " : "        ") + l.Trim()));
        File.WriteAllText(config, $"dbs:\n  - path: {db}\n    replicas:\n{replica}\n");
        string output = Path.Combine(dir, "restored.db");
        string expected;
        using (var upstream = new BackgroundProcess(Prerequisites.Upstream!, ["replicate", "-config", config]))
        {
            SqliteWriter.Write(db, new Workload { Start = 100, Commits = 400, Pad = 700, Pause = 0.2, PauseEvery = 100 });
            expected = SqliteWriter.Dump(db);
            Wait.Until(() => RestoresTo(output, config, db, expected), "upstream's replica to hold every commit", upstream);
            upstream.Stop(TimeSpan.FromSeconds(30));
        }
        File.Delete(output);
        ProcessResult r = Exe.Run("restore", "-config", config, "-o", output, db);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Matches(@"from v0\.3 generation [0-9a-f]{16}", r.Stdout + r.Stderr);
        Assert.Equal(expected, SqliteWriter.Dump(output));
        Assert.StartsWith("ok 500 ", expected);
    }

    private static bool RestoresTo(string output, string config, string db, string expected)
    {
        File.Delete(output);
        return Exe.Run("restore", "-config", config, "-o", output, db).ExitCode == 0 && SqliteWriter.Dump(output) == expected;
    }
}
