
namespace Litestream.Aot.Tests.Cli;

/// <summary>
/// No secret ever reaches the output (issue 8 item 5): runs configured with known fake S3 credentials — in the
/// config file, in LITESTREAM_ACCESS_KEY_ID/SECRET, in the URL's user info, plus an SSE-C key — against
/// s3rver, which rejects them, so the error paths run too. Every line any command prints (replicate logs,
/// status and databases with and without -json, ltx -json, restore and its errors, version -verbose) is
/// searched for each secret.
/// </summary>
[Requires(Need.Python)]
public class SecretsTests
{
    private const string ConfigKeyId = "AKIAFAKECONFIGKEY0001";
    private const string ConfigSecret = "fakeConfigSecret/7Hq+x9Zt0001";
    private const string EnvKeyId = "AKIAFAKEENVKEY000002";
    private const string EnvSecret = "fakeEnvSecret/3Lm+p2Wq0002";
    private const string UrlKeyId = "AKIAFAKEURLKEY000003";
    private const string UrlSecret = "fakeUrlSecret3Rk0003";
    private const string SseKey = "ZmFrZVNzZUN1c3RvbWVyS2V5MDAwNDAwMDQwMDA0MDA=";

    private static readonly string[] s_secrets = [ConfigKeyId, ConfigSecret, EnvKeyId, EnvSecret, UrlKeyId, UrlSecret, SseKey];

    [RequiresFact(Need.Exe, Need.S3rver)]
    public void FakeCredentials_NeverAppearInAnyOutput()
    {
        using var s3 = new S3rver();
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        SqliteWriter.Write(db, 1);
        string config = Path.Combine(dir, "litestream.yml");
        File.WriteAllText(config, S3rver.Config(db, "secrets", s3.Endpoint, ConfigKeyId, ConfigSecret) + $"        sse-customer-key: {SseKey}\n");
        var env = new Dictionary<string, string> { ["LITESTREAM_ACCESS_KEY_ID"] = EnvKeyId, ["LITESTREAM_SECRET_ACCESS_KEY"] = EnvSecret };
        string envUrl = s3.Url("secrets-env");
        string userInfoUrl = $"s3://{UrlKeyId}:{UrlSecret}@{S3rver.Bucket}/secrets-url?endpoint={s3.Endpoint}&forcePathStyle=true";
        string sseUrl = s3.Url("secrets-sse") + "&sseCustomerKey=" + Uri.EscapeDataString(SseKey);
        var outputs = new List<string>();

        foreach ((IDictionary<string, string>? e, string[] args) in new (IDictionary<string, string>?, string[])[]
        {
            (null, ["replicate", "-config", config]),
            (env, ["replicate", db, envUrl]),
            (null, ["replicate", db, userInfoUrl]),
            (env, ["replicate", db, sseUrl]),
        })
        {
            using BackgroundProcess daemon = Exe.Start(e, args);
            Wait.Until(() => daemon.Output.Contains("level=ERROR", StringComparison.Ordinal) || daemon.HasExited, "the rejected credentials to be logged");
            daemon.Stop();
            Assert.True(daemon.Output.Contains("level=ERROR", StringComparison.Ordinal),
                $"replicate #{outputs.Count + 1}: the rejected credentials produced no error: {daemon.Output}");
            outputs.Add(daemon.Output);
        }

        string restored = Path.Combine(dir, "out.db");
        foreach ((IDictionary<string, string>? e, string[] args) in new (IDictionary<string, string>?, string[])[]
        {
            (null, ["status", "-config", config]),
            (null, ["status", "-json", "-config", config]),
            (null, ["databases", "-config", config]),
            (null, ["databases", "-json", "-config", config]),
            (null, ["ltx", "-json", "-config", config, db]),
            (null, ["restore", "-config", config, "-o", restored, db]),
            (env, ["restore", "-o", restored, envUrl]),
            (env, ["ltx", "-json", envUrl]),
            (null, ["restore", "-o", restored, userInfoUrl]),
            (null, ["ltx", userInfoUrl]),
            (env, ["restore", "-o", restored, sseUrl]),
            (env, ["version", "-verbose"]),
        })
        {
            ProcessResult r = Exe.Run(e, args);
            outputs.Add($"$ {args[0]} (exit {r.ExitCode})\n{r.Stdout}{r.Stderr}"); // the arguments carry the secrets
        }

        string all = string.Join("\n", outputs);
        Assert.Contains("s3://bkt/secrets", all); // errors name the replica...
        foreach (string secret in s_secrets)
        {
            Assert.False(all.Contains(secret, StringComparison.Ordinal), $"secret {secret} leaked:\n{all}"); // ...never a secret
        }
        Assert.False(File.Exists(restored));
    }

    /// <summary>
    /// A secret holding '/', '+', '?', '@' and ':' in a URL's user info (issue 17 item 13: it was cut at the first
    /// '/', its first half printed as the bucket): every output of every command, the health file and the control
    /// socket's answers print neither the secret nor the key id. No S3 server is needed: the endpoint refuses
    /// connections, which is what puts the replica's errors in the log, in the health file and in status.
    /// </summary>
    [RequiresFact(Need.Exe)]
    public void SecretWithUrlDelimiters_NeverPrinted()
    {
        const string keyId = "AKIAFAKEDELIMKEY0017", secret = "TopSecret/Value+1?Q@W:2";
        string[] leaks = [keyId, "TopSecret", "Value+1", "Value\\u002B1", "Q@W:2", "SeCrEtFile99", "StarSecret"];
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db"), sock = Path.Combine(dir, "ls.sock"), other = Path.Combine(dir, "other.db");
        SqliteWriter.Write(db, 1);
        string url = $"s3://{keyId}:{secret}@bkt/c2?endpoint=http://127.0.0.1:1";
        string redacted = "s3://REDACTED@bkt/c2?endpoint=http://127.0.0.1:1";
        string config = Path.Combine(dir, "litestream.yml");
        File.WriteAllText(config, $"socket: {{enabled: true, path: {sock}}}\ndbs:\n  - path: {db}\n    replica:\n      url: '{url}'\n");
        var env = new Dictionary<string, string> { ["LITESTREAM_ACCESS_KEY_ID"] = "AKIAENVDELIM", ["LITESTREAM_SECRET_ACCESS_KEY"] = "envDelimSecret" };
        var outputs = new List<string>();

        // databases describes the replica with the user info masked, and the bucket where it belongs.
        ProcessResult databases = Exe.Run("databases", "-config", config);
        Assert.Equal((0, $"{"path".PadRight(db.Length + 2)}replica\n{db}  {redacted}\n"), (databases.ExitCode, databases.Stdout));
        Assert.Contains($"\"replica\": \"{redacted}\"", Exe.Run("databases", "-json", "-config", config).Stdout);

        using (BackgroundProcess daemon = Exe.Start(env, "replicate", "-config", config))
        {
            string health = Path.Combine(dir, ".app.db-litestream", "health");
            Wait.Until(() => File.Exists(health) && File.ReadAllLines(health).Any(line => line.StartsWith("sync ", StringComparison.Ordinal) || line.StartsWith("upload ", StringComparison.Ordinal)),
                $"a failure reported in {health}", daemon);
            outputs.Add(File.ReadAllText(health));
            ProcessResult status = Exe.Run("status", "-json", "-config", config);
            Assert.Contains("\"status\": \"error\"", status.Stdout);
            outputs.Add(status.Stdout + status.Stderr);
            ProcessResult register = Exe.Run("register", "-socket", sock, "-replica", url, other);
            Assert.Equal($"status: registered\ndb_path: {other}\nreplica: {redacted}\nsocket: {sock}\n", register.Stdout);
            outputs.Add(register.Stderr);
            outputs.Add(Exe.Run("list", "-socket", sock).Stdout);
            daemon.Stop();
            Assert.Contains("level=ERROR", daemon.Output);
            outputs.Add(daemon.Output);
        }

        string restored = Path.Combine(dir, "out.db");
        foreach (string[] args in new string[][]
        {
            ["restore", "-o", restored, url],
            ["ltx", url],
            ["restore", "-o", restored, "file://user:SeCrEtFile99@host/p"],
            ["replicate", db, "file://user:SeCrEtFile99@host/p"],
        })
        {
            ProcessResult r = Exe.Run(env, args);
            Assert.NotEqual(0, r.ExitCode);
            outputs.Add($"$ {args[0]}\n{r.Stdout}{r.Stderr}");
        }
        Assert.Contains("\"file://REDACTED@host/p\"", outputs[^1]);

        // An unquoted secret that starts with '*' is a YAML alias: the error does not echo it.
        File.WriteAllText(config, $"dbs:\n  - path: {db}\n    replica:\n      type: s3\n      bucket: bkt\n      access-key-id: {keyId}\n      secret-access-key: *StarSecret/99\n");
        ProcessResult star = Exe.Run("databases", "-config", config);
        Assert.Equal(1, star.ExitCode);
        outputs.Add(star.Stderr);

        string all = string.Join("\n", outputs);
        foreach (string leak in leaks)
        {
            Assert.False(all.Contains(leak, StringComparison.Ordinal), $"{leak} leaked:\n{all}");
        }
    }
}
