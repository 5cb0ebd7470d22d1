using System.Text.RegularExpressions;
using Litestream.Ltx;

namespace Litestream.Aot.Tests.Cli;

/// <summary>
/// Client-side encryption through the published exe (docs/ENCRYPTION.md): a live writer replicated under a key,
/// every replica file sealed, the restore by database path (its config has the key) equal to the database, and a
/// restore without the key refused with one error line, a hint and no output.
/// </summary>
[Requires(Need.Python)]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed partial class EncryptionEndToEndTests
{
    private static string KeyFile(string dir, UnixFileMode mode = UnixFileMode.UserRead | UnixFileMode.UserWrite, string name = "litestream.key")
    {
        string path = Path.Combine(dir, name);
        File.WriteAllText(path, Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)).ToLowerInvariant() + "\n");
        File.SetUnixFileMode(path, mode);
        return path;
    }

    [RequiresFact(Need.Exe)]
    public void LiveWriter_EncryptedReplica_RestoresWithTheKey_RefusedWithoutIt()
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        string replica = Path.Combine(dir, "replica");
        string key = KeyFile(dir);
        SqliteWriter.Write(db, new Workload { Commits = 20, Pad = 300 });
        using (var replicator = new Replicator(db, $"url: file://{replica}\nencryption: {{key-path: {key}}}"))
        {
            using (BackgroundProcess writer = SqliteWriter.Start(db, new Workload { Commits = 400, Start = 20, Pad = 300, Pause = 0.005 }))
            {
                Assert.Equal(0, writer.WaitForExit(TimeSpan.FromMinutes(5)));
            }
            replicator.CaughtUp();
            Assert.Equal(0, replicator.Stop());
            Assert.DoesNotContain(" level=ERROR", replicator.Output, StringComparison.Ordinal);
        }

        string[] files = Directory.GetFiles(replica, "*.ltx", SearchOption.AllDirectories);
        Assert.NotEmpty(files);
        byte[] rowText = "row123-xxxxxxxx"u8.ToArray();
        foreach (string file in files)
        {
            byte[] bytes = File.ReadAllBytes(file);
            Assert.True(LtxHeader.Read(bytes).IsEncrypted, $"{file} is not encrypted");
            Assert.True(bytes.AsSpan().IndexOf(rowText) < 0, $"{file} holds row text");
        }

        string config = Directory.GetFiles(dir, "litestream-*.yml").Single();
        string restored = Path.Combine(dir, "restored.db");
        ProcessResult ok = Exe.Run("restore", "-config", config, "-o", restored, db);
        Assert.True(ok.ExitCode == 0, ok.Stderr);
        Assert.StartsWith($"restored {restored} to txid ", ok.Stderr, StringComparison.Ordinal);
        Assert.Equal(SqliteWriter.Dump(db), SqliteWriter.Dump(restored));

        string refused = Path.Combine(dir, "refused.db");
        ProcessResult noKey = Exe.Run("restore", "-o", refused, $"file://{replica}");
        Assert.Equal(1, noKey.ExitCode);
        Assert.Matches(NoKeyError(), noKey.Stderr);
        Assert.Empty(Directory.GetFiles(dir, "refused.db*"));
    }

    [RequiresFact(Need.Exe)]
    public void BadKey_OneErrorLineNamingTheKey_NeverPrintingIt()
    {
        string dir = TestRepo.TempDir();
        string config = Path.Combine(dir, "litestream.yml");
        File.WriteAllText(config, $"dbs:\n  - path: {dir}/app.db\n    replica:\n      url: file://{dir}/replica\n      encryption:\n        key: secret-but-not-a-key+/=\n");
        ProcessResult r = Exe.Run("replicate", "-config", config);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("dbs[0].replica.encryption.key: the key is not an encryption key: need 32 bytes as 64 hex digits or base64 (e.g. openssl rand -hex 32)", r.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("secret-but-not-a-key", r.Stderr, StringComparison.Ordinal);
    }

    [RequiresFact(Need.Exe)]
    public void KeyFileReadableByOthers_Warns_AndStillReplicates()
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        string key = KeyFile(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        SqliteWriter.Write(db, 5);
        string config = Path.Combine(dir, "litestream.yml");
        File.WriteAllText(config, $"dbs:\n  - path: {db}\n    replica:\n      url: file://{dir}/replica\n      encryption: {{key-path: {key}}}\n");
        ProcessResult r = Exe.Run("replicate", "-once", "-config", config);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains($"{db}: key file {key} is readable by group or others (chmod 600 it)", r.Stderr + r.Stdout, StringComparison.Ordinal);
        Assert.True(LtxHeader.Read(File.ReadAllBytes(Directory.GetFiles(Path.Combine(dir, "replica"), "*.ltx", SearchOption.AllDirectories)[0])).IsEncrypted);
    }

    [RequiresFact(Need.Exe)]
    public void PlainReplica_RestoredWithAKeyConfigured_Restores_WarningOnceForThePlainFilesAndTheLooseKeyFile()
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        SqliteWriter.Write(db, 5);
        Assert.Equal(0, Exe.Run("replicate", "-once", db, $"file://{dir}/replica").ExitCode);
        string key = KeyFile(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        string config = Path.Combine(dir, "litestream.yml");
        File.WriteAllText(config, $"dbs:\n  - path: {db}\n    replica:\n      url: file://{dir}/replica\n      encryption: {{key-path: {key}}}\n");
        string restored = Path.Combine(dir, "restored.db");
        ProcessResult r = Exe.Run("restore", "-config", config, "-o", restored, db);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(SqliteWriter.Dump(db), SqliteWriter.Dump(restored));
        string[] warnings = r.Stderr.Split('\n').Where(l => l.Contains("level=WARN", StringComparison.Ordinal)).ToArray();
        Assert.Equal(2, warnings.Length);
        Assert.EndsWith($"msg=\"key file {key} is readable by group or others (chmod 600 it)\"", warnings[0], StringComparison.Ordinal);
        Assert.EndsWith("msg=\"1 of 1 restored file(s) were not encrypted although an encryption key is configured (written before encryption was switched on, or by a replicator without the key)\"", warnings[1], StringComparison.Ordinal);
    }

    [RequiresFact(Need.Exe)]
    public void Reencrypt_DryRunListsOldKeyFiles_ThenRewritesThem_AndTheOldKeyIsNoLongerNeeded()
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        string oldKey = KeyFile(dir, name: "old.key");
        string newKey = KeyFile(dir, name: "new.key");
        string Config(string name, string encryption)
        {
            string config = Path.Combine(dir, name);
            File.WriteAllText(config, $"dbs:\n  - path: {db}\n    replica:\n      url: file://{dir}/replica\n      encryption: {encryption}\n");
            return config;
        }
        string before = Config("before.yml", $"{{key-path: {oldKey}}}");
        string rotating = Config("rotating.yml", $"{{key-path: {newKey}, previous-key-paths: [{oldKey}]}}");
        string after = Config("after.yml", $"{{key-path: {newKey}}}");
        SqliteWriter.Write(db, 5);
        Assert.Equal(0, Exe.Run("replicate", "-once", "-config", before).ExitCode);
        SqliteWriter.Write(db, new Workload { Commits = 5, Start = 5 });
        Assert.Equal(0, Exe.Run("replicate", "-once", "-config", before).ExitCode);
        int files = Directory.GetFiles(Path.Combine(dir, "replica"), "*.ltx", SearchOption.AllDirectories).Length;
        string oldId = LtxPageCipher.FormatKeyId(LtxPageCipher.Parse(File.ReadAllText(oldKey)).KeyId);
        string newId = LtxPageCipher.FormatKeyId(LtxPageCipher.Parse(File.ReadAllText(newKey)).KeyId);

        ProcessResult dry = Exe.Run("reencrypt", "-dry-run", "-config", rotating, db);
        Assert.True(dry.ExitCode == 0, dry.Stderr);
        string[] lines = dry.Stdout.TrimEnd().Split('\n');
        Assert.Equal(files, lines.Length - 1);
        Assert.All(lines[..^1], l => Assert.Matches($@"^would reencrypt ltx/\d/[0-9a-f]{{16}}-[0-9a-f]{{16}}\.ltx \(key {oldId} -> key {newId}\)$", l));
        Assert.Equal($"{dir}/replica: {files} file(s) would be rewritten under key {newId}, 0 already under it; nothing was written", lines[^1]);

        ProcessResult run = Exe.Run("reencrypt", "-config", rotating, db);
        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.EndsWith($"{dir}/replica: {files} file(s) rewritten under key {newId}, 0 already under it\n", run.Stdout, StringComparison.Ordinal);
        ProcessResult again = Exe.Run("reencrypt", "-config", rotating, db);
        Assert.Equal($"{dir}/replica: 0 file(s) rewritten under key {newId}, {files} already under it\n", again.Stdout);

        string restored = Path.Combine(dir, "restored.db");
        ProcessResult restore = Exe.Run("restore", "-config", after, "-o", restored, db);
        Assert.True(restore.ExitCode == 0, restore.Stderr);
        Assert.Equal(SqliteWriter.Dump(db), SqliteWriter.Dump(restored));

        ProcessResult url = Exe.Run("reencrypt", $"file://{dir}/replica");
        Assert.Equal(2, url.ExitCode);
        Assert.StartsWith("error: reencrypt takes a database path, not a replica URL\n", url.Stderr, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"^error: replica is encrypted with key id [0-9a-f]{8} and no encryption key is configured\nhint: set encryption.key-path in the replica's config section and restore by database path with -config\n$")]
    private static partial Regex NoKeyError();
}
