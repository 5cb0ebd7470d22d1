using System.Text;
using Azure.Storage;
using Azure.Storage.Blobs;

namespace Litestream.Aot.Tests.Cli;

/// <summary>
/// v0.3 replicas on every backend v0.3 could write and this build reads: the upstream v0.3.13 binary replicates a
/// live database to s3rver, Azurite and sshd in its generations layout (one litestream.yml both programs read), and
/// our exe restores each to the source's content, saying it came from a v0.3 generation. With v0.3's
/// <c>age:</c> section upstream encrypts every object (filippo.io/age, X25519): our exe restores them with the identity
/// and refuses them cleanly without it, with the wrong one, or tampered.
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

    // Two age-keygen key pairs: upstream encrypts to Recipient1; Identity2 is someone else's key.
    private const string Identity1 = "AGE-SECRET-KEY-13ZQ0W4CK5EKN3Q9YW24V037E6XYQPZ6F5MSGYH4ZFQWZ4KFWCWPQHGK94Q";
    private const string Recipient1 = "age1p9p3y4fyrq30r0vfyjz2x33w7kmuvm37tn44sz25ly8vn692xd9q3wjnv9";
    private const string Identity2 = "AGE-SECRET-KEY-1XA4PFR3HDMN62P6S5UMGSX3G8AU76QXTR89725RNEQ0YX5NCTCXQ4V2W6V";
    private const string AgeLine = $"age: {{identities: [{Identity1}], recipients: [{Recipient1}]}}";

    [RequiresFact(Need.Exe, Need.Upstream)]
    public void UpstreamV0313AgeReplicaOnFile_RestoresWithIdentity_RefusedCleanlyOtherwise()
    {
        string replica = Path.Combine(TestRepo.TempDir(), "replica");
        (string config, string db) = RoundTrip($"path: {replica}\n{AgeLine}", encrypted: true);
        string text = File.ReadAllText(config);
        string[] objects = Directory.GetFiles(Path.Combine(replica, "generations"), "*.lz4", SearchOption.AllDirectories);
        Assert.Contains(objects, static o => o.Contains("/snapshots/", StringComparison.Ordinal));
        Assert.Contains(objects, static o => o.Contains("/wal/", StringComparison.Ordinal));
        Assert.All(objects, static o => Assert.StartsWith("age-encryption.org/v1\n-> X25519 ", Encoding.Latin1.GetString(File.ReadAllBytes(o))));

        AssertRefused(text.Replace(AgeLine, "sync-interval: 1s", StringComparison.Ordinal), db,
            @"error: v0\.3 replica file generations/[0-9a-f]{16}/snapshots/[0-9a-f]{8}\.snapshot\.lz4 is encrypted with age, and no age identity is configured\n"
            + @"hint: add the replica's age identities to its config, as for litestream v0\.3: age: \{identities: \[AGE-SECRET-KEY-1…\]\}\n");
        AssertRefused(text.Replace(Identity1, Identity2, StringComparison.Ordinal), db,
            @"error: cannot decrypt generations/[0-9a-f]{16}/snapshots/[0-9a-f]{8}\.snapshot\.lz4: no configured age identity matches the file's recipients\n"
            + @"hint: the replica was encrypted for other age recipients; set age: identities to the AGE-SECRET-KEY-1… matching them\n");
        AssertRefused(text.Replace($"identities: [{Identity1}], ", "", StringComparison.Ordinal), db,
            @"error: dbs\[0\]\.replicas\[0\]\.age\.recipients: age recipients encrypt, restore needs the identities\n"
            + @"hint: add the matching private keys under age: identities: \[AGE-SECRET-KEY-1…\] \(age-keygen wrote them beside each age1… recipient\)\n");

        // One byte of the newest WAL segment flipped: that object fails authentication; nothing is written.
        string tampered = Path.Combine(TestRepo.TempDir(), "tampered");
        foreach (string o in objects)
        {
            string copy = Path.Combine(tampered, Path.GetRelativePath(replica, o));
            Directory.CreateDirectory(Path.GetDirectoryName(copy)!);
            File.Copy(o, copy);
        }
        string newest = Directory.GetFiles(tampered, "*.wal.lz4", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Last();
        byte[] bytes = File.ReadAllBytes(newest);
        bytes[^5] ^= 0x40;
        File.WriteAllBytes(newest, bytes);
        AssertRefused(text.Replace(replica, tampered, StringComparison.Ordinal), db,
            $@"error: cannot decrypt generations/[0-9a-f]{{16}}/wal/{Path.GetFileName(newest).Replace(".", @"\.", StringComparison.Ordinal)}: age payload chunk \d+ failed authentication \(wrong key, or the file was modified\)\n"
            + @"hint: the v0\.3 replica file is damaged or was modified; restore from another replica or an earlier snapshot\n");

        // replicate writes LTX, which age never encrypted: the age section is refused as upstream v0.5 refuses it.
        ProcessResult replicate = Exe.Run("replicate", "-config", config);
        Assert.Equal(1, replicate.ExitCode);
        Assert.StartsWith("error: dbs[0].replicas[0].age: age encryption is not currently supported, if you need encryption please revert back to Litestream v0.3.x\nhint: ", replicate.Stderr);
    }

    [RequiresFact(Need.Exe, Need.Upstream, Need.S3rver)]
    public void UpstreamV0313AgeReplicaOnS3_RestoresWithIdentity()
    {
        using var s3 = new S3rver();
        (string config, string db) = RoundTrip($"""
            type: s3
            bucket: {S3rver.Bucket}
            path: legacy-age
            endpoint: {s3.Endpoint}
            region: us-east-1
            force-path-style: true
            access-key-id: {S3rver.Credential}
            secret-access-key: {S3rver.Credential}
            {AgeLine}
            """, encrypted: true);
        AssertRefused(File.ReadAllText(config).Replace(AgeLine, "sync-interval: 1s", StringComparison.Ordinal), db,
            @"error: v0\.3 replica file generations/[0-9a-f]{16}/snapshots/[0-9a-f]{8}\.snapshot\.lz4 is encrypted with age, and no age identity is configured\n");
    }

    /// <summary>
    /// Upstream replicates while a writer commits; our exe restores what it wrote once it holds every commit.
    /// <paramref name="encrypted"/>: random 3000-byte blobs instead of text, so an age-encrypted snapshot spans
    /// several 64 KiB STREAM chunks. Returns the config both programs read and the database path.
    /// </summary>
    private static (string Config, string Db) RoundTrip(string replicaYaml, bool encrypted = false)
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        SqliteWriter.Write(db, encrypted ? new Workload { Commits = 100, Sizes = "3000" } : new Workload { Commits = 100, Pad = 700 });
        string config = Path.Combine(dir, "litestream.yml");
        string replica = string.Join('\n', replicaYaml.Trim().Split('\n').Select(static (l, i) => (i == 0 ? "      - " : "        ") + l.Trim()));
        File.WriteAllText(config, $"dbs:\n  - path: {db}\n    replicas:\n{replica}\n");
        string output = Path.Combine(dir, "restored.db");
        string expected;
        using (var upstream = new BackgroundProcess(Prerequisites.Upstream!, ["replicate", "-config", config]))
        {
            SqliteWriter.Write(db, encrypted
                ? new Workload { Start = 100, Commits = 400, Sizes = "3000", Pause = 0.2, PauseEvery = 100 }
                : new Workload { Start = 100, Commits = 400, Pad = 700, Pause = 0.2, PauseEvery = 100 });
            expected = SqliteWriter.Dump(db);
            Wait.Until(() => RestoresTo(output, config, db, expected), "upstream's replica to hold every commit", upstream);
            upstream.Stop();
        }
        File.Delete(output);
        ProcessResult r = Exe.Run("restore", "-config", config, "-o", output, db);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Matches(@"from v0\.3 generation [0-9a-f]{16}", r.Stdout + r.Stderr);
        Assert.Equal(expected, SqliteWriter.Dump(output));
        Assert.StartsWith("ok 500 ", expected);
        return (config, db);
    }

    /// <summary>Restore with <paramref name="configText"/> fails with exit 1 and stderr matching <paramref name="stderr"/>, leaving no file behind.</summary>
    private static void AssertRefused(string configText, string db, string stderr)
    {
        string dir = TestRepo.TempDir();
        string config = Path.Combine(dir, "litestream.yml");
        File.WriteAllText(config, configText);
        string output = Path.Combine(dir, "refused.db");
        ProcessResult r = Exe.Run("restore", "-config", config, "-o", output, db);
        Assert.Equal(1, r.ExitCode);
        Assert.True(System.Text.RegularExpressions.Regex.IsMatch(r.Stderr, "^" + stderr), r.Stderr);
        Assert.Equal(["litestream.yml"], Directory.GetFileSystemEntries(dir).Select(Path.GetFileName));
    }

    private static bool RestoresTo(string output, string config, string db, string expected)
    {
        File.Delete(output);
        return Exe.Run("restore", "-config", config, "-o", output, db).ExitCode == 0 && SqliteWriter.Dump(output) == expected;
    }
}
