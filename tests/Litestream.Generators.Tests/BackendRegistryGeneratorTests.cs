using System.Collections.Immutable;
using Litestream.Generators.BackendRegistry;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Litestream.Generators.Tests;

public class BackendRegistryGeneratorTests
{
    private const string Contracts = """
        namespace Litestream.Storage
        {
            public interface IReplicaClient { }
            public sealed record ReplicaSettings { public System.Collections.Generic.IReadOnlyDictionary<string, string> Options { get; init; } = null!; }
            public abstract record ReplicaBackendSettings
            {
                internal void CopyGenericMembers(ReplicaSettings settings) { }
                protected virtual bool PrintMembers(System.Text.StringBuilder builder) => false;
            }
            internal sealed record ReplicaUrlParts;
            internal enum ReplicaKeyKind { String, Boolean, Int32, Int64, Size }
            internal static class ReplicaKeyValues
            {
                public static string? ReadString(System.Collections.Generic.IReadOnlyDictionary<string, string> o, string k) => null;
                public static bool? ReadBoolean(System.Collections.Generic.IReadOnlyDictionary<string, string> o, string k) => null;
                public static int? ReadInt32(System.Collections.Generic.IReadOnlyDictionary<string, string> o, string k) => null;
                public static long? ReadInt64(System.Collections.Generic.IReadOnlyDictionary<string, string> o, string k) => null;
                public static long? ReadSize(System.Collections.Generic.IReadOnlyDictionary<string, string> o, string k) => null;
                public static bool PrintMember(System.Text.StringBuilder b, bool any, string name, object? value, bool secret) => any;
            }
            [System.AttributeUsage(System.AttributeTargets.Class, AllowMultiple = true)]
            internal sealed class ReplicaBackendAttribute(string name) : System.Attribute { public string Name { get; } = name; }
            [System.AttributeUsage(System.AttributeTargets.Property)]
            internal sealed class ReplicaKeyAttribute(string name) : System.Attribute { public string Name { get; } = name; }
            [System.AttributeUsage(System.AttributeTargets.Property)]
            internal sealed class ReplicaSecretAttribute : System.Attribute { }
            [System.AttributeUsage(System.AttributeTargets.Property)]
            internal sealed class ReplicaSizeAttribute : System.Attribute { }
        }
        """;

    private const string TwoBackends = """
        using Litestream.Storage;
        namespace Backends
        {
            [ReplicaBackend("s3")]
            public sealed class S3Client : IReplicaClient { public static IReplicaClient Create(S3Settings settings) => new S3Client(); }
            public sealed partial record S3Settings : ReplicaBackendSettings
            {
                public string? Bucket { get; init; }
                [ReplicaSize] public long? PartSize { get; init; }
                public int? Concurrency { get; init; }
                [ReplicaKey("require-content-md5")] public bool? RequireContentMd5 { get; init; }
                [ReplicaSecret] public string? SecretAccessKey { get; init; }
                internal static ReplicaSettings ParseUrl(ReplicaUrlParts url) => new();
            }
            [ReplicaBackend("file")]
            public sealed class FileClient : IReplicaClient { public static IReplicaClient Create(FileSettings settings) => new FileClient(); }
            public sealed partial record FileSettings : ReplicaBackendSettings
            {
                internal static ReplicaSettings ParseUrl(ReplicaUrlParts url) => new();
            }
        }
        """;

    /// <summary>A backend <c>C</c> with settings <c>S</c> whose body is <paramref name="settings"/>.</summary>
    private static string Backend(string name, string settings, string settingsType = "public sealed partial record S")
        => $$"""
            [ReplicaBackend("{{name}}")] public sealed class C : IReplicaClient { public static IReplicaClient Create(S s) => null!; }
            {{settingsType}} : ReplicaBackendSettings { internal static ReplicaSettings ParseUrl(ReplicaUrlParts url) => new(); {{settings}} }
            """;

    private static CSharpCompilation Compile(string source)
        => GeneratorHarness.Compile(GeneratorHarness.CoreReferences, (Contracts, "Contracts.cs"), (source, "Backends.cs"));

    private static (GeneratorDriver Driver, Compilation Output, ImmutableArray<Diagnostic> Diagnostics) Run(CSharpCompilation compilation, GeneratorDriver? driver = null)
        => GeneratorHarness.Run(new BackendRegistryGenerator(), compilation, driver);

    [Fact]
    public void Generate_TwoBackends_MatchesBaselinesAndCompiles()
    {
        var (driver, output, diagnostics) = Run(Compile(TwoBackends));
        Assert.Empty(diagnostics);
        Assert.Empty(output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error));
        GeneratorRunResult result = driver.GetRunResult().Results.Single();
        Assert.Equal(["Backends.FileSettings.Keys.g.cs", "Backends.S3Settings.Keys.g.cs", "ReplicaClientRegistry.g.cs"],
            result.GeneratedSources.Select(s => s.HintName).OrderBy(n => n, StringComparer.Ordinal));
        foreach ((string hint, string baseline) in new[] { ("ReplicaClientRegistry.g.cs", "TwoBackends"), ("Backends.S3Settings.Keys.g.cs", "TwoBackends.S3Settings") })
        {
            string generated = result.GeneratedSources.Single(s => s.HintName == hint).SourceText.ToString();
            Assert.Equal(GeneratorHarness.Baseline(baseline, generated), GeneratorHarness.Normalize(generated));
        }
    }

    [Fact]
    public void Generate_LitestreamBackendsSelectsSome_OnlyThoseCreateAndParse_OthersListedAsOmitted_KeysOfAllKept()
    {
        var (driver, output, diagnostics) = GeneratorHarness.Run(new BackendRegistryGenerator(), Compile(TwoBackends),
            buildProperties: new Dictionary<string, string> { ["LitestreamBackends"] = "file" });
        Assert.Empty(diagnostics);
        Assert.Empty(output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error));
        string registry = driver.GetRunResult().Results.Single().GeneratedSources.Single(s => s.HintName == "ReplicaClientRegistry.g.cs").SourceText.ToString();
        Assert.Equal(GeneratorHarness.Baseline("TwoBackends.FileOnly", registry), GeneratorHarness.Normalize(registry));
        Assert.DoesNotContain("S3Client.Create", registry, StringComparison.Ordinal);
        Assert.DoesNotContain("S3Settings.ParseUrl", registry, StringComparison.Ordinal);
        Assert.Contains("case \"part-size\":", registry, StringComparison.Ordinal);
    }

    [Fact]
    public void Generate_LitestreamBackendsNamesAnUnknownBackend_LSG0013()
    {
        var (_, _, diagnostics) = GeneratorHarness.Run(new BackendRegistryGenerator(), Compile(TwoBackends),
            buildProperties: new Dictionary<string, string> { ["LitestreamBackends"] = "file,gcs" });
        Diagnostic d = Assert.Single(diagnostics);
        Assert.Equal("LSG0013", d.Id);
        Assert.Equal("LitestreamBackends names \"gcs\", which no [ReplicaBackend] registers (known: file, s3)", d.GetMessage());
    }

    [Theory]
    [InlineData("[ReplicaBackend(\"x\")] public sealed class C { public static IReplicaClient Create(S s) => null!; } public sealed partial record S : ReplicaBackendSettings;", "LSG0001", "C is marked [ReplicaBackend(\"x\")] but does not implement IReplicaClient")]
    [InlineData("[ReplicaBackend(\"x\")] public sealed class C : IReplicaClient { }", "LSG0002", "C needs 'public static IReplicaClient Create(TSettings settings)', TSettings a record derived from ReplicaBackendSettings, to be registered as \"x\"")]
    [InlineData("[ReplicaBackend(\"x\")] public sealed class C : IReplicaClient { public static IReplicaClient Create(ReplicaSettings s) => null!; }", "LSG0002", "C needs 'public static IReplicaClient Create(TSettings settings)', TSettings a record derived from ReplicaBackendSettings, to be registered as \"x\"")]
    [InlineData("[ReplicaBackend(\"S3\")] public sealed class C : IReplicaClient { }", "LSG0004", "backend name \"S3\" on C must be lowercase letters and digits (it is a URL scheme)")]
    public void Generate_Misuse_ReportsDiagnostic(string source, string id, string message)
        => AssertSingleDiagnostic(source, id, message);

    [Theory]
    [InlineData("", "public sealed record S", "LSG0010", "S (the settings of backend \"x\") must be a top-level sealed partial record: the generator adds its key binding to it")]
    [InlineData("public long PartSize { get; init; }", "public sealed partial record S", "LSG0011", "S.PartSize is a long: backend keys are string, bool?, int?, long?, TimeSpan? or IReadOnlyList<string>? (null: not set, so the backend's default applies)")]
    [InlineData("[ReplicaSize] public int? PartSize { get; init; }", "public sealed partial record S", "LSG0009", "S.PartSize: [ReplicaSize] needs a long? property")]
    [InlineData("[ReplicaKey(\"Bad_Key\")] public string? A { get; init; }", "public sealed partial record S", "LSG0008", "config key \"Bad_Key\" of S must be lowercase words joined by '-'")]
    [InlineData("public string? A { get; init; } [ReplicaKey(\"a\")] public string? B { get; init; }", "public sealed partial record S", "LSG0007", "config key \"a\" of S is claimed twice")]
    public void Generate_BadSettings_ReportsDiagnostic(string body, string settingsType, string id, string message)
        => AssertSingleDiagnostic(Backend("x", body, settingsType), id, message);

    [Fact]
    public void Generate_SettingsWithoutUrlParser_ReportsDiagnostic()
        => AssertSingleDiagnostic(
            "[ReplicaBackend(\"x\")] public sealed class C : IReplicaClient { public static IReplicaClient Create(S s) => null!; } public sealed partial record S : ReplicaBackendSettings;",
            "LSG0010", "S needs 'internal static ReplicaSettings ParseUrl(ReplicaUrlParts url)': how a \"x://\" URL names its keys");

    [Fact]
    public void Generate_NameClaimedTwice_ReportsDiagnostic()
        => AssertSingleDiagnostic(Backend("x", "") + Backend("x", "").Replace("class C", "class D").Replace("record S", "record T").Replace("(S s)", "(T s)"),
            "LSG0003", "backend name \"x\" is claimed by global::C, global::D");

    [Fact]
    public void Generate_KeyReadAsTwoKinds_ReportsDiagnostic()
        => AssertSingleDiagnostic(Backend("x", "public string? Port { get; init; }") + Backend("y", "public int? Port { get; init; }").Replace("class C", "class D").Replace("record S", "record T").Replace("(S s)", "(T s)"),
            "LSG0012", "config key \"port\" is read as different kinds by S.Port (String), T.Port (Int32): one key, one kind, so litestream.yml can check it before the backend is known");

    private static void AssertSingleDiagnostic(string source, string id, string message)
    {
        var (_, _, diagnostics) = Run(Compile("using Litestream.Storage;\n" + source));
        Diagnostic d = Assert.Single(diagnostics);
        Assert.Equal((id, message), (d.Id, d.GetMessage()));
    }

    [Fact]
    public void Generate_UnrelatedEdit_CachedAndRealEdit_Modified()
    {
        var (unrelated, edited) = GeneratorHarness.RunEdits(new BackendRegistryGenerator(), Compile(TwoBackends), "BackendSpecs", "Backends.cs", TwoBackends.Replace("\"s3\"", "\"gs\""));
        Assert.All(unrelated, r => Assert.True(GeneratorHarness.IsCached(r), r.ToString()));
        Assert.Contains(IncrementalStepRunReason.Modified, edited);
    }

    [Fact]
    public void Specs_HoldNoRoslynSymbols()
        => GeneratorHarness.AssertPlainData(typeof(BackendSpec), typeof(BackendKeySpec), typeof(DiagnosticInfo), typeof(BackendParseResult));
}
