using System.CommandLine;
using Litestream.Aot.Cli;

namespace Litestream.Aot.Tests.Cli;

/// <summary>The command tree and usage errors, in process (no published exe needed).</summary>
public class ParseTests
{
    private static readonly RootCommand s_root = Program.BuildRoot();

    // Spec REPLICA-LAYOUT.md §8: every upstream flag of every command, plus -config/-no-expand-env where
    // upstream registers them; restore -replica is v0.3's, back for a replicas: list.
    public static TheoryData<string, string[]> UpstreamFlags => new()
    {
        { "replicate", ["config", "no-expand-env", "exec", "once", "force-snapshot", "enforce-retention", "log-level", "restore-if-db-not-exists", "lease-wait"] },
        { "restore", ["config", "no-expand-env", "o", "txid", "timestamp", "parallelism", "if-db-not-exists", "if-replica-exists", "dry-run", "force", "json", "f", "follow-interval", "integrity-check", "replica"] },
        { "ltx", ["config", "no-expand-env", "level", "json"] },
        { "wal", ["config", "no-expand-env", "level", "json"] },
        { "databases", ["config", "no-expand-env", "json"] },
        { "status", ["config", "no-expand-env", "json"] },
        { "reset", ["config", "no-expand-env", "dry-run"] },
        { "reencrypt", ["config", "no-expand-env", "dry-run"] },
        { "version", ["verbose"] },
        { "start", ["socket", "timeout", "json"] },
        { "stop", ["socket", "timeout", "json"] },
        { "sync", ["socket", "timeout", "wait"] },
        { "register", ["socket", "timeout", "json", "replica"] },
        { "unregister", ["socket", "timeout", "json", "dry-run"] },
        { "info", ["socket", "timeout"] },
        { "list", ["socket", "timeout", "json"] },
    };

    [Theory]
    [MemberData(nameof(UpstreamFlags))]
    public void EveryUpstreamFlag_HasSingleAndDoubleDashSpelling(string command, string[] flags)
    {
        Command c = s_root.Subcommands.Single(s => s.Name == command);
        string[] ours = [.. c.Options.Where(o => o.Name != "--help").Select(o => o.Name[2..]).Order(StringComparer.Ordinal)];
        Assert.Equal(flags.Order(StringComparer.Ordinal), ours);
        foreach (Option option in c.Options.Where(o => o.Name != "--help"))
        {
            Assert.Contains("-" + option.Name[2..], option.Aliases);
        }
        foreach (string help in new[] { "-h", "--help" })
        {
            ParseResult parse = s_root.Parse([command, help]);
            Assert.Null(UsageErrors.Find(parse));
            Assert.IsType<DocumentedHelpAction>(parse.Action);
        }
    }

    [Theory]
    [InlineData("-o")]
    [InlineData("--o")]
    public void ValueFlags_ParseInBothSpellingsAndWithEquals(string spelling)
    {
        foreach (string[] args in new[] { new[] { "restore", spelling, "/tmp/out.db", "file:///r" }, [.. new[] { "restore", spelling + "=/tmp/out.db", "file:///r" }] })
        {
            ParseResult parse = s_root.Parse(args);
            Assert.Null(UsageErrors.Find(parse));
            Assert.Equal("/tmp/out.db", parse.GetValue<string?>("--o"));
        }
    }

    [Theory]
    [InlineData("unknown flag \"-bogus\"", "hint: run 'litestream restore -h' for usage", "restore", "-bogus")]
    [InlineData("unknown flag \"--bogus\"", "hint: run 'litestream restore -h' for usage", "restore", "--bogus", "x")]
    [InlineData("unknown flag \"-bogus\"", "hint: run 'litestream restore -h' for usage", "restore", "x", "-bogus")]
    [InlineData("unknown flag \"-replica\"", "hint: run 'litestream replicate -h' for usage", "replicate", "-replica", "s3://b/p")]
    [InlineData("unknown flag \"-bogus\"", "hint: run 'litestream -h' for the list of commands", "-bogus")]
    [InlineData("unknown command \"bogus\"", "hint: run 'litestream -h' for the list of commands", "bogus")]
    [InlineData("missing argument DB_PATH|REPLICA_URL", "hint: run 'litestream restore -h' for usage", "restore")]
    [InlineData("missing argument DB_PATH|REPLICA_URL", "hint: run 'litestream ltx -h' for usage", "ltx", "-json")]
    [InlineData("missing argument DB_PATH", "hint: run 'litestream reset -h' for usage", "reset")]
    [InlineData("unexpected argument \"b\"", "hint: run 'litestream restore -h' for usage", "restore", "a", "b")]
    [InlineData("flag needs a value: -o", "hint: run 'litestream restore -h' for usage", "restore", "x", "-o")]
    [InlineData("flag needs a value: --txid", "hint: run 'litestream restore -h' for usage", "restore", "x", "--txid")]
    [InlineData("invalid value \"abc\" for -parallelism: expected a whole number", "hint: run 'litestream restore -h' for usage", "restore", "-parallelism", "abc", "x")]
    [InlineData("invalid value \"0\" for --parallelism: must be at least 1", "hint: run 'litestream restore -h' for usage", "restore", "--parallelism", "0", "x")]
    [InlineData("unexpected argument \"x\"", "hint: run 'litestream status -h' for usage", "status", "a", "x")]
    // Issue 18: v0.3 command lines are answered with what replaced them.
    [InlineData("\"snapshots\" was removed in Litestream v0.5: snapshots are the LTX files at level 9 of a replica",
        "hint: litestream ltx -level 9 DB_PATH|REPLICA_URL", "snapshots", "/var/lib/app.db")]
    [InlineData("\"generations\" was removed in Litestream v0.5: a replica holds one TXID sequence, not generations",
        "hint: litestream ltx -level all DB_PATH|REPLICA_URL lists it (restore still reads the generations of a v0.3 replica)", "generations", "/var/lib/app.db")]
    [InlineData("-generation was removed in Litestream v0.5: a replica holds one TXID sequence, not generations",
        "hint: pick a point in it with -txid or -timestamp; 'litestream ltx -level all DB_PATH' lists the TXIDs", "restore", "-generation", "0123456789abcdef", "/var/lib/app.db")]
    [InlineData("-generation was removed in Litestream v0.5: a replica holds one TXID sequence, not generations",
        "hint: 'litestream ltx -level all DB_PATH' lists every file of it", "wal", "--generation=0123456789abcdef", "/var/lib/app.db")]
    [InlineData("-replica was removed from ltx and wal in Litestream v0.5 (restore has it again, for a replicas: list)",
        "hint: to read another replica, give its URL instead of the database path", "ltx", "-replica", "s3", "/var/lib/app.db")]
    [InlineData("-index was removed in Litestream v0.5: WAL indexes became TXIDs",
        "hint: use -txid TXID (16 hex digits) or -timestamp; 'litestream ltx -level all DB_PATH' lists the TXIDs", "restore", "-index", "3", "/var/lib/app.db")]
    [InlineData("-v was removed in Litestream v0.5: restore always reports what it restored",
        "hint: -dry-run prints the plan; -json prints the result as JSON", "restore", "-v", "/var/lib/app.db")]
    public void BadUsage_OneMessageAndHint(string message, string hint, params string[] args)
    {
        UsageException? e = UsageErrors.Find(s_root.Parse(args));
        Assert.NotNull(e);
        Assert.Equal(message, e.Message);
        Assert.Equal(hint, "hint: " + e.Hint);
    }

    [Theory]
    [InlineData("restore", "--", "-odd-name.db")]
    [InlineData("restore", "-o", "-", "file:///r")]
    [InlineData("replicate")]
    [InlineData("replicate", "-once", "-force-snapshot", "/tmp/a.db", "file:///tmp/r")]
    [InlineData("status")]
    [InlineData("status", "/tmp/a.db", "-json")]
    [InlineData("version", "--verbose")]
    [InlineData("wal", "-level", "all", "file:///r")]
    public void GoodUsage_NoError(params string[] args)
        => Assert.Null(UsageErrors.Find(s_root.Parse(args)));

    [Fact]
    public void Parallelism_DefaultsToEight()
        => Assert.Equal(8, s_root.Parse(["restore", "file:///r"]).GetValue<int>("--parallelism"));

    [Theory]
    [InlineData(0, "0 B")]
    [InlineData(9, "9 B")]
    [InlineData(999, "999 B")]
    [InlineData(1000, "1.0 kB")]
    [InlineData(4120, "4.1 kB")]
    [InlineData(12345, "12 kB")]
    [InlineData(4_000_000, "4.0 MB")]
    [InlineData(1_500_000_000, "1.5 GB")]
    public void HumanBytes_MatchesGoHumanize(long bytes, string expected)
        => Assert.Equal(expected, StatusCommand.HumanBytes(bytes));

    [Fact]
    public void TextTable_AlignsAllButTheLastColumnWithTwoSpaces()
    {
        var table = new TextTable("database", "status", "local txid", "wal size");
        table.Add("/a.db", "ok", "0000000000000003", "4.1 kB");
        table.Add("/longer/path.db", "no database", "-", "-");
        var writer = new StringWriter { NewLine = "\n" };
        table.WriteTo(writer);
        Assert.Equal(
            "database         status       local txid        wal size\n" +
            "/a.db            ok           0000000000000003  4.1 kB\n" +
            "/longer/path.db  no database  -                 -\n",
            writer.ToString());
    }
}
