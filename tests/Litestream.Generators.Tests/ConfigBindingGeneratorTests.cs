using System.Collections.Immutable;
using System.Reflection;
using Litestream.Aot.Config;
using Litestream.Generators.ConfigBinding;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Litestream.Generators.Tests;

public class ConfigBindingGeneratorTests
{
    // Every kind of property the binder reads, against the real attributes and ConfigNode of Litestream.Aot.
    private const string Sections = """
        using System;
        using System.Collections.Generic;
        using Litestream.Aot.Config;

        namespace Sample
        {
            [ConfigSection]
            [ConfigNotSupported("legacy", "old-key", Message = "not supported yet (legacy)")]
            [ConfigNotSupported("socket")]
            public sealed partial class RootConfig
            {
                public string? Name { get; set; }
                [ConfigKey("url")]
                public string? Address { get; set; }
                [ConfigOneOf("fast", "safe", IgnoreCase = true, Error = "invalid mode \"{0}\" (fast or safe)")]
                public string? Mode { get; set; }
                public bool Enabled { get; set; }
                public int? Count { get; set; }
                public long Offset { get; set; }
                [ConfigSize]
                public long? BufferSize { get; set; }
                public TimeSpan SyncInterval { get; set; } = TimeSpan.FromSeconds(1);
                public List<TimeSpan> Intervals { get; set; } = [];
                public List<ItemConfig> Items { get; set; } = [];
                public ItemConfig? Single { get; set; }
                [ConfigInline]
                public ItemConfig Defaults { get; set; } = new();
                public string Computed => Name ?? "";

                public string Describe()
                    => $"{Name}|{Address}|{Mode}|{Enabled}|{Count}|{Offset}|{BufferSize}|{SyncInterval}|{string.Join(",", Intervals)}|{string.Join(",", Items.ConvertAll(i => i.Path))}|{Single?.Path}|{Defaults.Path}|{string.Join(",", Defaults.Extra)}";
            }

            [ConfigSection]
            [ConfigOtherKeys(nameof(TryBindExtra))]
            public partial class ItemConfig
            {
                [ConfigRequired]
                public string? Path { get; set; }
                public Dictionary<string, string> Extra { get; } = new();

                private static bool TryBindExtra(ItemConfig target, string key, ConfigNode value, string path)
                {
                    if (!key.StartsWith("x-", StringComparison.Ordinal))
                    {
                        return false;
                    }
                    target.Extra[key] = value.AsString(path) ?? "";
                    return true;
                }

                partial void OnBound(string path, ConfigContext context) => Path = Path?.ToUpperInvariant();
            }
        }
        """;

    private static readonly MetadataReference[] s_references =
    [
        .. GeneratorHarness.CoreReferences,
        MetadataReference.CreateFromFile(Path.Combine(Path.GetDirectoryName(typeof(object).Assembly.Location)!, "System.Collections.dll")),
        MetadataReference.CreateFromFile(typeof(ConfigNode).Assembly.Location),
    ];

    private static CSharpCompilation Compile(string source) => GeneratorHarness.Compile(s_references, (source, "Sections.cs"));

    private static (GeneratorDriver Driver, Compilation Output, ImmutableArray<Diagnostic> Diagnostics) Run(CSharpCompilation compilation, GeneratorDriver? driver = null)
        => GeneratorHarness.Run(new ConfigBindingGenerator(), compilation, driver);

    private static ConfigNode Scalar(string value) => ConfigNode.Scalar(value, 1);

    private static ConfigNode Map(params (string Key, ConfigNode Value)[] entries)
        => ConfigNode.Mapping([.. entries.Select(e => new KeyValuePair<ConfigNode, ConfigNode>(Scalar(e.Key), e.Value))], 1);

    [Fact]
    public void Generate_EveryPropertyKind_MatchesBaselineAndCompiles()
    {
        var (driver, output, diagnostics) = Run(Compile(Sections));
        Assert.Empty(diagnostics);
        Assert.Empty(output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning));
        GeneratorRunResult result = driver.GetRunResult().Results.Single();
        Assert.Equal(["Sample.ItemConfig.ConfigBinder.g.cs", "Sample.RootConfig.ConfigBinder.g.cs"], result.GeneratedSources.Select(s => s.HintName).Order(StringComparer.Ordinal));
        foreach (GeneratedSourceResult source in result.GeneratedSources)
        {
            string name = source.HintName.Replace(".ConfigBinder.g.cs", "", StringComparison.Ordinal);
            string generated = source.SourceText.ToString();
            Assert.Equal(GeneratorHarness.Baseline(name, generated), GeneratorHarness.Normalize(generated));
        }
    }

    [Fact]
    public void GeneratedBinder_Runs_BindsEveryKindAndReportsPaths()
    {
        var (_, output, _) = Run(Compile(Sections));
        using var image = new MemoryStream();
        Assert.True(output.Emit(image).Success);
        Type root = Assembly.Load(image.ToArray()).GetType("Sample.RootConfig")!;
        MethodInfo bind = root.GetMethod("Bind", BindingFlags.Static | BindingFlags.NonPublic)!;
        object Bind(ConfigNode node)
        {
            try
            {
                return bind.Invoke(null, [node, "", new ConfigContext("/")])!;
            }
            catch (TargetInvocationException e) when (e.InnerException is ConfigException inner)
            {
                throw inner;
            }
        }

        ConfigNode full = Map(
            ("name", Scalar("n")), ("url", Scalar("u")), ("mode", Scalar("FAST")), ("enabled", Scalar("yes")), ("count", Scalar("3")),
            ("offset", Scalar("9000000000")), ("buffer-size", Scalar("2KiB")), ("sync-interval", Scalar("1m30s")),
            ("intervals", ConfigNode.List([Scalar("1s"), Scalar("2h")], 1)),
            ("items", ConfigNode.List([Map(("path", Scalar("a"))), Map(("path", Scalar("b")))], 1)),
            ("single", Map(("path", Scalar("s")))), ("path", Scalar("inline")), ("x-color", Scalar("red")));
        Assert.Equal("n|u|FAST|True|3|9000000000|2048|00:01:30|00:00:01,02:00:00|A,B|S|inline|[x-color, red]",
            (string)root.GetMethod("Describe")!.Invoke(Bind(full), null)!);

        Assert.Equal("items[1]: path required", Assert.Throws<ConfigException>(() => Bind(Map(("items", ConfigNode.List([Map(("path", Scalar("a"))), Map()], 1))))).Message);
        Assert.Equal("items[0].paht: unknown key (line 7)", Assert.Throws<ConfigException>(() => Bind(Map(("items", ConfigNode.List([ConfigNode.Mapping([new(ConfigNode.Scalar("paht", 7), Scalar("a"))], 7)], 1))))).Message);
        Assert.Equal("mode: invalid mode \"slow\" (fast or safe)", Assert.Throws<ConfigException>(() => Bind(Map(("mode", Scalar("slow"))))).Message);
        Assert.Equal("old-key: not supported yet (legacy)", Assert.Throws<ConfigException>(() => Bind(Map(("old-key", Scalar("1"))))).Message);
        Assert.Equal("socket: not supported yet", Assert.Throws<ConfigException>(() => Bind(Map(("socket", Map())))).Message);
        Assert.Equal("intervals[1]: invalid duration \"2d\"", Assert.Throws<ConfigException>(() => Bind(Map(("intervals", ConfigNode.List([Scalar("1s"), Scalar("2d")], 1))))).Message);
        Assert.Equal("count: invalid number \"3000000000\"", Assert.Throws<ConfigException>(() => Bind(Map(("count", Scalar("3000000000"))))).Message);
        Assert.Equal("single: expected a mapping (line 1)", Assert.Throws<ConfigException>(() => Bind(Map(("single", Scalar("s"))))).Message);
        Assert.Equal("computed: unknown key (line 1)", Assert.Throws<ConfigException>(() => Bind(Map(("computed", Scalar("x"))))).Message);
    }

    [Theory]
    [InlineData("[ConfigSection] public sealed class C { }", "LSG0005", "C is marked [ConfigSection] but is not a top-level, non-generic partial class: the generator adds its Bind method to it")]
    [InlineData("public partial class Outer { [ConfigSection] public partial class C { } }", "LSG0005", "C is marked [ConfigSection] but is not a top-level, non-generic partial class: the generator adds its Bind method to it")]
    [InlineData("[ConfigSection] public partial class C { public System.Uri? Endpoint { get; set; } }", "LSG0006", "C.Endpoint is a System.Uri?: config properties are string, bool, int, long, TimeSpan, UnixFileMode (each optionally nullable), [ConfigSection] classes, or List<T> of those")]
    [InlineData("[ConfigSection] public partial class C { public System.Collections.Generic.Dictionary<string, string>? Tags { get; set; } }", "LSG0006", "C.Tags is a System.Collections.Generic.Dictionary<string, string>?: config properties are string, bool, int, long, TimeSpan, UnixFileMode (each optionally nullable), [ConfigSection] classes, or List<T> of those")]
    [InlineData("[ConfigSection] public partial class C { public string? Url { get; set; } [ConfigKey(\"url\")] public string? Address { get; set; } }", "LSG0007", "config key \"url\" of C is claimed by both Url and Address")]
    [InlineData("[ConfigSection, ConfigNotSupported(\"age\")] public partial class C { public string? Age { get; set; } }", "LSG0007", "config key \"age\" of C is claimed by both Age and [ConfigNotSupported]")]
    [InlineData("[ConfigSection] public partial class C { [ConfigKey(\"Sync_Interval\")] public string? SyncInterval { get; set; } }", "LSG0008", "config key \"Sync_Interval\" of C must be lowercase words joined by '-'")]
    [InlineData("[ConfigSection] public partial class C { [ConfigSize] public int Bytes { get; set; } }", "LSG0009", "C.Bytes: [ConfigSize] needs a long property")]
    [InlineData("[ConfigSection] public partial class C { [ConfigRequired] public int Count { get; set; } }", "LSG0009", "C.Count: [ConfigRequired] needs a nullable property (a missing key leaves it null)")]
    [InlineData("[ConfigSection] public partial class C { [ConfigOneOf(\"a\")] public bool Flag { get; set; } }", "LSG0009", "C.Flag: [ConfigOneOf] needs a string property")]
    [InlineData("[ConfigSection] public partial class C { [ConfigInline] public string? Name { get; set; } }", "LSG0009", "C.Name: [ConfigInline] needs a [ConfigSection] property")]
    public void Generate_Misuse_ReportsDiagnosticAndNoSource(string source, string id, string message)
    {
        var (driver, _, diagnostics) = Run(Compile("using Litestream.Aot.Config;\n" + source));
        Diagnostic d = Assert.Single(diagnostics);
        Assert.Equal((id, message), (d.Id, d.GetMessage()));
        Assert.Equal(2, d.Location.GetLineSpan().StartLinePosition.Line + 1);
        Assert.Empty(driver.GetRunResult().Results.Single().GeneratedSources);
    }

    [Fact]
    public void Generate_UnrelatedEdit_CachedAndRealEdit_Modified()
    {
        var (unrelated, edited) = GeneratorHarness.RunEdits(new ConfigBindingGenerator(), Compile(Sections), "ConfigSpec", "Sections.cs",
            Sections.Replace("ConfigKey(\"url\")", "ConfigKey(\"endpoint\")", StringComparison.Ordinal));
        Assert.All(unrelated, r => Assert.True(GeneratorHarness.IsCached(r), r.ToString()));
        Assert.Equal(2, unrelated.Length);
        // Only RootConfig changed: its spec is rebuilt, ItemConfig's is not.
        Assert.Equal((1, 1), (edited.Count(r => r == IncrementalStepRunReason.Modified), edited.Count(GeneratorHarness.IsCached)));
    }

    [Theory]
    [InlineData("SyncInterval", "sync-interval")]
    [InlineData("L0Retention", "l0-retention")]
    [InlineData("L0RetentionCheckInterval", "l0-retention-check-interval")]
    [InlineData("RequireContentMd5", "require-content-md5")]
    [InlineData("TruncatePageN", "truncate-page-n")]
    [InlineData("SseKmsKeyId", "sse-kms-key-id")]
    [InlineData("HTTPAddr", "http-addr")]
    [InlineData("Addr", "addr")]
    public void KebabCase_PropertyName_UpstreamKey(string name, string key) => Assert.Equal(key, KeyNames.KebabCase(name));

    [Fact]
    public void Specs_HoldNoRoslynSymbols()
        => GeneratorHarness.AssertPlainData(typeof(ConfigTypeSpec), typeof(ConfigPropertySpec), typeof(NotSupportedSpec), typeof(ConfigParseResult));
}
