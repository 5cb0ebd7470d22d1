using System.Text;
using Litestream.Aot.Config;
using Litestream.Aot.Tests.Cli;

namespace Litestream.Aot.Tests.Config;

/// <summary>
/// Seeded mutation fuzzing of the config loader through its public entry point (<see cref="ConfigLoader.Parse"/>):
/// thousands of damaged variants of valid configs — flipped and dropped characters, YAML syntax tokens,
/// anchors and tags, moved indentation, duplicated and swapped lines, known keys with wrong values — must
/// each either load or fail with a <see cref="ConfigException"/> carrying a one-line message. Any other
/// exception type is a bug. A slice of the same cases goes through the published exe, which must answer
/// with exit code 0 or 1 and one <c>error:</c> line, never a crash. (Long runs: fuzz/README.md.)
/// </summary>
public class ConfigLoaderFuzzTests
{
    internal static readonly string[] Seeds =
    [
        """
        addr: ":9090"
        levels: [{interval: 10s}, {interval: 2m}]
        snapshot: {interval: 12h, retention: 72h}
        l0-retention: 1m
        retention: {enabled: false}
        shutdown-sync-timeout: 5s
        access-key-id: GLOBALKEY
        region: eu-west-1
        logging:
          level: debug
        dbs:
          - path: data/app.db
            monitor-interval: 250ms
            max-sync-wal-bytes: 8MiB
            truncate-page-n: 5000
            replica:
              url: s3://bkt/app?endpoint=http://127.0.0.1:9000
              sync-interval: 2s
              part-size: 10MB
          - path: sqlite:///abs/b.db
            replicas:
              - path: /backups/b
        """,
        """
        dbs:
          - path: ../demo/app.db
            meta-path: /var/lib/litestream/meta
            checkpoint-interval: 1m
            min-checkpoint-page-count: 1000
            busy-timeout: 1s
            replica:
              type: file
              path: ../demo/replica
              sync-interval: 1s
              max-sync-ltx-files: 64
              auto-recover: true
        """,
        """
        exec: "myapp -serve"
        levels:
          - interval: 30s
          - interval: 5m
        dbs:
          - path: /data/app.db
            restore-if-db-not-exists: true
            replica:
              type: s3
              bucket: my-bucket
              path: db
              region: us-east-1
              endpoint: http://localhost:9000
              force-path-style: true
              access-key-id: ${AWS_ACCESS_KEY_ID}
              secret-access-key: ${AWS_SECRET_ACCESS_KEY}
              sse-customer-algorithm: AES256
        """,
    ];

    private static readonly string[] s_tokens =
    [
        ":", ": ", "- ", "-", "[", "]", "{", "}", ",", "&a ", "*a", "*b", "!!str ", "!!int ", "!!map ", "!custom ", "|", ">-", "\"", "'",
        "#", "\t", "\n", "  ", "\r\n", "${HOME}", "${", "$${X}", "${LITESTREAM_FUZZ_UNSET}", "%YAML 1.2\n", "---\n", "...\n", "~", "null",
        "-1", "0", "99999999999999999999", "9223372036854775808", "1e400", "0x10", "1.5h", "-5s", "1d", "NaN", ".inf", "\0", "\u00e9",
        "\ud83d\ude00", "\ufeff", "? ", "<<: *a\n", "<<: ", "true", "yes", "on", "s3://", "file://", "abs://", "gs://", "sftp://u:p@h/x",
        "?endpoint=", "%zz", "\\", "\\u0000", "\"\\x\"", "'unterminated",
    ];

    private static readonly string[] s_keys =
    [
        "path", "url", "type", "replica", "replicas", "dbs", "levels", "interval", "snapshot", "retention", "sync-interval", "meta-path",
        "monitor-interval", "checkpoint-interval", "busy-timeout", "min-checkpoint-page-count", "truncate-page-n", "max-sync-wal-bytes",
        "bucket", "endpoint", "part-size", "concurrency", "logging", "level", "exec", "addr", "age", "enabled", "unknown-key",
    ];

    /// <summary>Applies 1–4 random mutations to <paramref name="seed"/>.</summary>
    internal static string Mutate(string seed, Random random)
    {
        var text = new StringBuilder(seed);
        int count = 1 + random.Next(4);
        for (int m = 0; m < count; m++)
        {
            int at = text.Length == 0 ? 0 : random.Next(text.Length);
            switch (random.Next(9))
            {
                case 0: // flip a bit of one character
                    if (text.Length > 0)
                    {
                        text[at] = (char)(text[at] ^ (1 << random.Next(7)));
                    }
                    break;
                case 1: // drop a run
                    text.Remove(at, Math.Min(random.Next(1, 12), text.Length - at));
                    break;
                case 2: // insert a YAML token
                    text.Insert(at, s_tokens[random.Next(s_tokens.Length)]);
                    break;
                case 3: // replace the rest of a line with a token
                    int end = text.ToString().IndexOf('\n', at);
                    text.Remove(at, (end < 0 ? text.Length : end) - at).Insert(at, s_tokens[random.Next(s_tokens.Length)]);
                    break;
                case 4: // insert a known key with a wrong-typed value at some indentation
                    text.Insert(LineStart(text, at), $"{new string(' ', 2 * random.Next(4))}{s_keys[random.Next(s_keys.Length)]}: {s_tokens[random.Next(s_tokens.Length)]}\n");
                    break;
                case 5: // move a line's indentation
                    text.Insert(LineStart(text, at), new string(' ', 1 + random.Next(3)));
                    break;
                case 6: // duplicate or swap lines
                    List<string> lines = [.. text.ToString().Split('\n')];
                    int a = random.Next(lines.Count), b = random.Next(lines.Count);
                    if (random.Next(2) == 0)
                    {
                        lines.Insert(b, lines[a]);
                    }
                    else
                    {
                        (lines[a], lines[b]) = (lines[b], lines[a]);
                    }
                    text.Clear().Append(string.Join('\n', lines));
                    break;
                case 7: // truncate
                    text.Length = at;
                    break;
                default: // a random character anywhere
                    text.Insert(at, (char)random.Next(0, 0x3000));
                    break;
            }
        }
        return text.ToString();
    }

    private static int LineStart(StringBuilder text, int at)
    {
        while (at > 0 && text[at - 1] != '\n')
        {
            at--;
        }
        return at;
    }

    [Fact]
    public void Parse_TenThousandMutatedConfigs_LoadOrConfigErrorOnly()
    {
        var random = new Random(20261202);
        int loaded = 0, rejected = 0;
        // First case of each unexpected exception type, so one run shows every distinct bug.
        var unexpected = new Dictionary<Type, string>();
        for (int i = 0; i < 10_000; i++)
        {
            string text = Mutate(Seeds[i % Seeds.Length], random);
            try
            {
                ConfigLoader.Parse(text, "/cfg", expandEnv: i % 2 == 0);
                loaded++;
            }
            catch (ConfigException e)
            {
                Assert.False(string.IsNullOrWhiteSpace(e.Message), $"case {i}: empty message\n---\n{text}");
                Assert.False(e.Message.Contains('\n', StringComparison.Ordinal), $"case {i}: multi-line message {e.Message}\n---\n{text}");
                rejected++;
            }
            catch (Exception e)
            {
                unexpected.TryAdd(e.GetType(), $"case {i}: {e.GetType()}: {e.Message}\n{e.StackTrace}\n---\n{text}");
            }
        }
        Assert.True(unexpected.Count == 0, string.Join("\n=====\n", unexpected.Values));
        // The mutator must exercise both outcomes, or it tests nothing.
        Assert.True(loaded > 500 && rejected > 5000, $"{loaded} loaded, {rejected} rejected");
    }

    [RequiresFact(Need.Exe)]
    public void Exe_MutatedConfigs_ExitZeroOrOneErrorLine()
    {
        var random = new Random(4242);
        for (int i = 0; i < 200; i++)
        {
            string text = Mutate(Seeds[i % Seeds.Length], random);
            ProcessResult r = Exe.RunWithInput(text, "databases", "-config", "-");
            if (r.ExitCode == 0)
            {
                continue;
            }
            string[] lines = r.Stderr.TrimEnd('\n').Split('\n');
            Assert.True(
                r.ExitCode == 1 && lines.Length <= 2 && lines[0].StartsWith("error: ", StringComparison.Ordinal) && (lines.Length == 1 || lines[1].StartsWith("hint: ", StringComparison.Ordinal)),
                $"case {i}: exit {r.ExitCode}\n{r.Stderr}\n---\n{text}");
        }
    }
}
