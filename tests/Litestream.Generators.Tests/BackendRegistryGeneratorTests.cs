using System.Collections.Immutable;
using System.Reflection;
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

    private static (GeneratorDriver Driver, Compilation Output, ImmutableArray<Diagnostic> Diagnostics) Run(string source, GeneratorDriver? driver = null, CSharpCompilation? compilation = null)
    {
        compilation ??= Compile(source);
        driver ??= CSharpGeneratorDriver.Create([new BackendRegistryGenerator().AsSourceGenerator()],
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));
        driver = driver.RunGeneratorsAndUpdateCompilation(compilation, out Compilation output, out ImmutableArray<Diagnostic> diagnostics);
        return (driver, output, diagnostics);
    }

    private static CSharpCompilation Compile(string source)
        => CSharpCompilation.Create("Test",
            [CSharpSyntaxTree.ParseText(Contracts, path: "Contracts.cs"), CSharpSyntaxTree.ParseText(source, path: "Backends.cs")],
            [MetadataReference.CreateFromFile(typeof(object).Assembly.Location),
             MetadataReference.CreateFromFile(Path.Combine(Path.GetDirectoryName(typeof(object).Assembly.Location)!, "System.Runtime.dll")),
             MetadataReference.CreateFromFile(typeof(System.CodeDom.Compiler.GeneratedCodeAttribute).Assembly.Location)],
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));

    private static string Baseline(string name, string actual)
    {
        string normalized = actual.Replace(GeneratedCodeInfo.Version, "VERSION", StringComparison.Ordinal).ReplaceLineEndings("\n");
        string dir = Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "Baselines");
        string path = Path.Combine(dir, name + ".generated.txt");
        if (Environment.GetEnvironmentVariable("UPDATE_BASELINES") == "1")
        {
            File.WriteAllText(path, normalized);
        }
        return File.ReadAllText(path).ReplaceLineEndings("\n");
    }

    [Fact]
    public void Generate_TwoBackends_MatchesBaselineAndCompiles()
    {
        var (driver, output, diagnostics) = Run(TwoBackends);
        Assert.Empty(diagnostics);
        Assert.Empty(output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error));
        GeneratorRunResult result = driver.GetRunResult().Results.Single();
        string generated = result.GeneratedSources.Single().SourceText.ToString();
        string normalized = generated.Replace(GeneratedCodeInfo.Version, "VERSION", StringComparison.Ordinal).ReplaceLineEndings("\n");
        Assert.Equal(Baseline("TwoBackends", generated), normalized);
    }

    [Theory]
    [InlineData("[ReplicaBackend(\"x\")] public sealed class C { public static IReplicaClient Create(ReplicaSettings s) => null!; }", "LSG0001", "C is marked [ReplicaBackend(\"x\")] but does not implement IReplicaClient")]
    [InlineData("[ReplicaBackend(\"x\")] public sealed class C : IReplicaClient { }", "LSG0002", "C needs 'public static IReplicaClient Create(ReplicaSettings settings)' to be registered as \"x\"")]
    [InlineData("[ReplicaBackend(\"S3\")] public sealed class C : IReplicaClient { public static IReplicaClient Create(ReplicaSettings s) => null!; }", "LSG0004", "backend name \"S3\" on C must be lowercase letters and digits (it is a URL scheme)")]
    [InlineData("[ReplicaBackend(\"x\")] public sealed class C : IReplicaClient { public static IReplicaClient Create(ReplicaSettings s) => null!; } [ReplicaBackend(\"x\")] public sealed class D : IReplicaClient { public static IReplicaClient Create(ReplicaSettings s) => null!; }", "LSG0003", "backend name \"x\" is claimed by global::C, global::D")]
    public void Generate_Misuse_ReportsDiagnostic(string source, string id, string message)
    {
        var (_, _, diagnostics) = Run("using Litestream.Storage;\n" + source);
        Diagnostic d = Assert.Single(diagnostics);
        Assert.Equal((id, message), (d.Id, d.GetMessage()));
    }

    [Fact]
    public void Generate_UnrelatedEdit_CachedAndRealEdit_Modified()
    {
        CSharpCompilation compilation = Compile(TwoBackends);
        var (driver, _, _) = Run(TwoBackends, compilation: compilation);

        CSharpCompilation unrelated = compilation.AddSyntaxTrees(CSharpSyntaxTree.ParseText("class Unrelated { }", path: "Other.cs"));
        (driver, _, _) = Run(TwoBackends, driver, unrelated);
        IncrementalGeneratorRunStep[] steps = driver.GetRunResult().Results.Single().TrackedSteps["BackendSpecs"].ToArray();
        Assert.All(steps.SelectMany(s => s.Outputs), o => Assert.True(o.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, o.Reason.ToString()));

        SyntaxTree backends = unrelated.SyntaxTrees.Single(t => t.FilePath == "Backends.cs");
        CSharpCompilation renamed = unrelated.ReplaceSyntaxTree(backends, CSharpSyntaxTree.ParseText(TwoBackends.Replace("\"s3\"", "\"gs\""), path: "Backends.cs"));
        (driver, _, _) = Run(TwoBackends, driver, renamed);
        steps = driver.GetRunResult().Results.Single().TrackedSteps["BackendSpecs"].ToArray();
        Assert.Contains(steps.SelectMany(s => s.Outputs), o => o.Reason == IncrementalStepRunReason.Modified);
    }

    [Fact]
    public void Specs_HoldNoRoslynSymbols()
    {
        foreach (Type type in new[] { typeof(BackendSpec), typeof(DiagnosticInfo), typeof(BackendParseResult) })
        {
            foreach (PropertyInfo p in type.GetProperties())
            {
                Assert.False(typeof(ISymbol).IsAssignableFrom(p.PropertyType) || typeof(Compilation).IsAssignableFrom(p.PropertyType)
                    || typeof(Location).IsAssignableFrom(p.PropertyType) || typeof(SyntaxNode).IsAssignableFrom(p.PropertyType),
                    $"{type.Name}.{p.Name} is a {p.PropertyType.Name}: specs must be plain data so the pipeline caches");
            }
        }
    }
}
