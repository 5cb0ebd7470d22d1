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
            public sealed record ReplicaSettings;
            [System.AttributeUsage(System.AttributeTargets.Class)]
            public sealed class ReplicaBackendAttribute(string name) : System.Attribute { public string Name { get; } = name; }
        }
        """;

    private const string TwoBackends = """
        using Litestream.Storage;
        namespace Backends
        {
            [ReplicaBackend("s3")]
            public sealed class S3Client : IReplicaClient { public static IReplicaClient Create(ReplicaSettings settings) => new S3Client(); }
            [ReplicaBackend("file")]
            public sealed class FileClient : IReplicaClient { public static IReplicaClient Create(ReplicaSettings settings) => new FileClient(); }
        }
        """;

    private static CSharpCompilation Compile(string source)
        => GeneratorHarness.Compile(GeneratorHarness.CoreReferences, (Contracts, "Contracts.cs"), (source, "Backends.cs"));

    private static (GeneratorDriver Driver, Compilation Output, ImmutableArray<Diagnostic> Diagnostics) Run(CSharpCompilation compilation, GeneratorDriver? driver = null)
        => GeneratorHarness.Run(new BackendRegistryGenerator(), compilation, driver);

    [Fact]
    public void Generate_TwoBackends_MatchesBaselineAndCompiles()
    {
        var (driver, output, diagnostics) = Run(Compile(TwoBackends));
        Assert.Empty(diagnostics);
        Assert.Empty(output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error));
        GeneratorRunResult result = driver.GetRunResult().Results.Single();
        string generated = result.GeneratedSources.Single().SourceText.ToString();
        Assert.Equal(GeneratorHarness.Baseline("TwoBackends", generated), GeneratorHarness.Normalize(generated));
    }

    [Theory]
    [InlineData("[ReplicaBackend(\"x\")] public sealed class C { public static IReplicaClient Create(ReplicaSettings s) => null!; }", "LSG0001", "C is marked [ReplicaBackend(\"x\")] but does not implement IReplicaClient")]
    [InlineData("[ReplicaBackend(\"x\")] public sealed class C : IReplicaClient { }", "LSG0002", "C needs 'public static IReplicaClient Create(ReplicaSettings settings)' to be registered as \"x\"")]
    [InlineData("[ReplicaBackend(\"S3\")] public sealed class C : IReplicaClient { public static IReplicaClient Create(ReplicaSettings s) => null!; }", "LSG0004", "backend name \"S3\" on C must be lowercase letters and digits (it is a URL scheme)")]
    [InlineData("[ReplicaBackend(\"x\")] public sealed class C : IReplicaClient { public static IReplicaClient Create(ReplicaSettings s) => null!; } [ReplicaBackend(\"x\")] public sealed class D : IReplicaClient { public static IReplicaClient Create(ReplicaSettings s) => null!; }", "LSG0003", "backend name \"x\" is claimed by global::C, global::D")]
    public void Generate_Misuse_ReportsDiagnostic(string source, string id, string message)
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
        => GeneratorHarness.AssertPlainData(typeof(BackendSpec), typeof(DiagnosticInfo), typeof(BackendParseResult));
}
