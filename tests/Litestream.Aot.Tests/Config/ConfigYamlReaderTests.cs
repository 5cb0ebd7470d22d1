using System.Diagnostics;
using System.Text;
using Litestream.Aot.Config;

namespace Litestream.Aot.Tests.Config;

/// <summary>
/// Hostile YAML is bounded (issue 17, items 11 and 12): an alias bomb, deep nesting and an oversized file each
/// fail with one message within milliseconds, before anything grows with the expansion or recurses deep. Through
/// <see cref="ConfigLoader.Parse"/>, the loader's public entry point.
/// </summary>
public class ConfigYamlReaderTests
{
    /// <summary>
    /// <paramref name="levels"/> levels of nine aliases of the level below, referenced from <c>dbs[0].meta</c>: a
    /// few hundred bytes that expand to 9^levels nodes.
    /// </summary>
    internal static string AliasBomb(int levels)
    {
        var yaml = new StringBuilder("dbs:\n  - path: /a.db\n    replica: {url: file:///r}\n    meta:\n      l0: &l0 [x, x, x, x, x, x, x, x, x]\n");
        for (int level = 1; level < levels; level++)
        {
            string below = $"*l{level - 1}";
            yaml.Append($"      l{level}: &l{level} [{string.Join(", ", Enumerable.Repeat(below, 9))}]\n");
        }
        return yaml.ToString();
    }

    /// <summary><c>dbs:</c> and <paramref name="depth"/> opening brackets.</summary>
    internal static string DeepNesting(int depth) => "dbs: " + new string('[', depth) + "\n";

    [Fact]
    public void Parse_AliasBomb_RejectedBeforeExpanding()
    {
        var clock = Stopwatch.StartNew();
        ConfigException error = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(AliasBomb(9), "/cfg"));
        Assert.Equal($"invalid yaml at line 10: aliases expand the document past {ConfigYamlReader.MaxNodes} nodes", error.Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
    }

    [Fact]
    public void Parse_AliasesWithinTheBudget_Load()
    {
        // Anchors and aliases are fine in moderation: 9^4 = 6561 expanded nodes under an unknown key still bind.
        ConfigException error = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(AliasBomb(4), "/cfg"));
        Assert.Equal("dbs[0].meta: unknown key (line 4)", error.Message);
        LitestreamConfig config = ConfigLoader.Parse("dbs:\n  - path: /a.db\n    replica: &r {url: file:///r}\n  - path: /b.db\n    replica: *r\n", "/cfg");
        Assert.Equal(["/a.db", "/b.db"], config.Dbs.Select(d => d.Path));
        Assert.Equal("/r", config.Dbs[1].Replica!.ToSettings(config.ReplicaDefaults).Path);
    }

    [Theory]
    [InlineData(60_000)]
    [InlineData(65)]
    public void Parse_DeepNesting_RejectedAtTheLimit(int depth)
    {
        var clock = Stopwatch.StartNew();
        ConfigException error = Assert.Throws<ConfigException>(() => ConfigLoader.Parse(DeepNesting(depth), "/cfg"));
        Assert.Equal($"invalid yaml at line 1: nested deeper than {ConfigYamlReader.MaxDepth} levels", error.Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
    }

    [Fact]
    public void Parse_NestingAtTheLimit_ReachesTheBinder()
    {
        string yaml = "dbs: " + new string('[', ConfigYamlReader.MaxDepth - 1) + new string(']', ConfigYamlReader.MaxDepth - 1) + "\n";
        Assert.Equal("dbs[0]: expected a mapping (line 1)", Assert.Throws<ConfigException>(() => ConfigLoader.Parse(yaml, "/cfg")).Message);
    }

    [Fact]
    public void Parse_UndefinedAlias_DoesNotEchoTheValue()
    {
        // An unquoted secret that starts with '*' is read as an alias: the error must not print it.
        ConfigException error = Assert.Throws<ConfigException>(() => ConfigLoader.Parse("access-key-id: AKIA\nsecret-access-key: *Sec/retValue42\n", "/cfg"));
        Assert.Equal("invalid yaml at line 2: undefined alias (a value that starts with '*' refers to an anchor; quote it if it is text)", error.Message);
    }

    [Fact]
    public void Parse_DuplicateKey_NamesBothLines()
        => Assert.Equal("invalid yaml at line 3: mapping key \"logging\" already defined at line 1",
            Assert.Throws<ConfigException>(() => ConfigLoader.Parse("logging: {level: info}\ndbs: []\nlogging: {level: debug}\n", "/cfg")).Message);

    [Fact]
    public void Parse_OverTheSizeLimit_Rejected()
    {
        string yaml = "dbs: []\n" + new string('#', ConfigLoader.MaxSize);
        Assert.Equal("the config is larger than 1024 KiB", Assert.Throws<ConfigException>(() => ConfigLoader.Parse(yaml, "/cfg")).Message);
    }

    [Fact]
    public void Parse_EnvironmentExpansionPastTheLimit_Rejected()
    {
        Environment.SetEnvironmentVariable("LS_TEST_BIG", new string('x', 64 * 1024));
        try
        {
            string yaml = string.Concat(Enumerable.Repeat("# ${LS_TEST_BIG}\n", 100));
            var clock = Stopwatch.StartNew();
            Assert.Equal("the config is larger than 1024 KiB after environment expansion", Assert.Throws<ConfigException>(() => ConfigLoader.Parse(yaml, "/cfg")).Message);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
        }
        finally
        {
            Environment.SetEnvironmentVariable("LS_TEST_BIG", null);
        }
    }

    [Fact]
    public void ExpandEnvironment_ManyUnclosedBraces_Linear()
    {
        string text = string.Concat(Enumerable.Repeat("${", 400_000));
        var clock = Stopwatch.StartNew();
        Assert.Equal(text, ConfigValues.ExpandEnvironment(text, _ => "v"));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");
    }
}
