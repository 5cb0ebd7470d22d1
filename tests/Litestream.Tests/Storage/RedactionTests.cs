using System.Text.Json;
using Litestream.Storage;

namespace Litestream.Tests.Storage;

/// <summary>
/// <see cref="Redaction"/>, the one owner of "no secret is printed", and the URL parsing it shares with
/// <see cref="ReplicaUrl"/>: user info runs to the last '@', so a secret holding '/', '?', '@' or ':' neither
/// moves the bucket nor survives in any text that carries the URL.
/// </summary>
public class RedactionTests
{
    private static string? Option(ReplicaSettings s, string key) => s.Options.TryGetValue(key, out string? value) ? value : null;

    private const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=?*@:%";

    [Fact]
    public void ParseAndApply_RandomSecretsFromTheBase64AlphabetAndUrlDelimiters_NeverPrinted()
    {
        var random = new Random(20261217);
        for (int i = 0; i < 5000; i++)
        {
            char[] chars = new char[random.Next(8, 49)];
            for (int c = 0; c < chars.Length; c++)
            {
                chars[c] = Alphabet[random.Next(Alphabet.Length)];
            }
            string secret = new(chars);
            string url = $"s3://AKIAFAKEPROPERTY{i:D4}:{secret}@bkt/c2?endpoint=http://127.0.0.1:9000&region=r";

            // The parse: the secret moves nothing.
            ReplicaSettings s = ReplicaUrl.Parse(url);
            (string? bucket, string? endpoint, string? region) = (Option(s, "bucket"), Option(s, "endpoint"), Option(s, "region"));
            Assert.True((bucket, s.Path, endpoint, region) == ("bkt", "c2", "http://127.0.0.1:9000", "r"), $"secret {secret}: bucket {bucket}, path {s.Path}, endpoint {endpoint}");
            Assert.Equal("s3://REDACTED@bkt/c2?endpoint=http://127.0.0.1:9000&region=r", s.Url);

            // Every way the URL reaches output: in a sentence, quoted, JSON-encoded, in a file:// error.
            string[] outputs =
            [
                Redaction.Apply($"time=x level=ERROR msg=\"replica {url} failed: {secret}\""),
                Redaction.Apply($"error: invalid url \"{url}\"\nhint: x"),
                Redaction.Apply(JsonSerializer.Serialize(new[] { url, secret })),
                Redaction.Apply(Assert.Throws<ArgumentException>(() => ReplicaUrl.Parse($"file://user:{secret}@host/p")).Message),
            ];
            foreach (string output in outputs)
            {
                Assert.False(output.Contains(secret, StringComparison.Ordinal), $"secret {secret} in: {output}");
                Assert.False(output.Contains($"AKIAFAKEPROPERTY{i:D4}", StringComparison.Ordinal), $"key id with secret {secret} in: {output}");
                Assert.False(output.Contains(JsonEncodedText.Encode(secret).ToString(), StringComparison.Ordinal), $"JSON-escaped secret {secret} in: {output}");
            }
        }
    }

    [Theory]
    [InlineData("s3://AKIAFAKE:TopSecret/Value+1@bkt/c2?endpoint=http://e:1", "bkt", "c2")]
    [InlineData("s3://AKIAFAKE:a?b@c@bkt/c2", "bkt", "c2")]
    [InlineData("s3://:only/Pw-7f3kQz9@bkt/c2", "bkt", "c2")]
    [InlineData("s3://bkt/c2@2024", "bkt", "c2@2024")] // no ':' before the first '/': an '@' in the path is no user info
    [InlineData("s3://bkt/c2?endpoint=http://u:p@e:1", "bkt", "c2")]
    public void Parse_UserInfoEndsAtTheLastAt(string url, string bucket, string path)
    {
        ReplicaSettings s = ReplicaUrl.Parse(url);
        Assert.Equal((bucket, path), (Option(s, "bucket"), s.Path));
    }

    [Theory]
    [InlineData("put s3://AKIAFAKE:TopSecret/Value+1@bkt/c2/0000/x.ltx: 403", "put s3://REDACTED@bkt/c2/0000/x.ltx: 403")]
    [InlineData("\"url\":\"sftp://bob:hunter2@example.com:2222/p\"", "\"url\":\"sftp://REDACTED@example.com:2222/p\"")]
    [InlineData("sftp://bob@example.com/p", "sftp://bob@example.com/p")] // a user without a password is no credential
    [InlineData("s3://bkt/db?endpoint=http://x:1&sseCustomerKey=c2VjcmV0LWtleQ==&region=r", "s3://bkt/db?endpoint=http://x:1&sseCustomerKey=REDACTED&region=r")]
    [InlineData("s3://bkt/db?endpoint=http://u:pw@x:1&token=abc", "s3://bkt/db?endpoint=http://REDACTED@x:1&token=REDACTED")] // a URL inside a query
    [InlineData("no url here", "no url here")]
    public void Apply_UrlsInText(string text, string expected) => Assert.Equal(expected, Redaction.Apply(text));

    [Fact]
    public void Apply_RegisteredSecret_EverySpelling()
    {
        const string secret = "reg/Secret+Value=42";
        Redaction.Register(secret);
        Assert.Equal("a REDACTED b REDACTED c \"REDACTED\"",
            Redaction.Apply($"a {secret} b {Uri.EscapeDataString(secret)} c {JsonSerializer.Serialize(secret)}"));
    }

    [Fact]
    public void Apply_NothingToRedact_SameInstance()
    {
        string text = "sync /data/app.db: txid 0000000000000005";
        Assert.Same(text, Redaction.Apply(text));
    }

    [Theory]
    [InlineData("s3: get object s3://bkt/key: bad key wJalrXUtnFEMI/K7MDENG", "wJalrXUtnFEMI/K7MDENG", "s3: get object s3://bkt/key: bad key REDACTED")]
    [InlineData("secretsecret and xsecretsecretx", "secretsecret", "REDACTED and xREDACTEDx")] // 8+ characters: every occurrence
    [InlineData("s3: put object s3://bkt/key: Forbidden (HTTP 403): key y", "y", "s3: put object s3://bkt/key: Forbidden (HTTP 403): key REDACTED")]
    [InlineData("y=y;y", "y", "REDACTED=REDACTED;REDACTED")]
    [InlineData("bucket yy y-", "y", "bucket yy REDACTED-")]
    public void RedactSecret_LongSecretsEverywhere_ShortOnesOnlyWhereTheyStandAlone(string text, string secret, string expected)
        => Assert.Equal(expected, Redaction.RedactSecret(text, secret));
}
