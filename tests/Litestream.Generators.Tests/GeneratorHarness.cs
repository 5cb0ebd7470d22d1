using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace Litestream.Generators.Tests;

/// <summary>Runs one generator over an in-memory compilation and compares its output with a baseline file.</summary>
internal static class GeneratorHarness
{
    /// <summary>The runtime assemblies every test compilation references.</summary>
    public static MetadataReference[] CoreReferences { get; } =
    [
        MetadataReference.CreateFromFile(typeof(object).Assembly.Location),
        MetadataReference.CreateFromFile(Path.Combine(Path.GetDirectoryName(typeof(object).Assembly.Location)!, "System.Runtime.dll")),
        MetadataReference.CreateFromFile(typeof(System.CodeDom.Compiler.GeneratedCodeAttribute).Assembly.Location),
    ];

    public static CSharpCompilation Compile(IEnumerable<MetadataReference> references, params (string Source, string Path)[] trees)
        => CSharpCompilation.Create("Test",
            trees.Select(t => CSharpSyntaxTree.ParseText(t.Source, path: t.Path)),
            references,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));

    /// <summary>Runs <paramref name="generator"/>; <paramref name="buildProperties"/> are MSBuild properties it sees (CompilerVisibleProperty).</summary>
    public static (GeneratorDriver Driver, Compilation Output, ImmutableArray<Diagnostic> Diagnostics) Run(IIncrementalGenerator generator, CSharpCompilation compilation, GeneratorDriver? driver = null,
        IReadOnlyDictionary<string, string>? buildProperties = null)
    {
        driver ??= CSharpGeneratorDriver.Create([generator.AsSourceGenerator()],
            optionsProvider: new BuildProperties(buildProperties ?? new Dictionary<string, string>()),
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));
        driver = driver.RunGeneratorsAndUpdateCompilation(compilation, out Compilation output, out ImmutableArray<Diagnostic> diagnostics);
        return (driver, output, diagnostics);
    }

    /// <summary>Generated source with the generator version replaced by VERSION and LF line ends.</summary>
    public static string Normalize(string generated)
        => generated.Replace(GeneratedCodeInfo.Version, "VERSION", StringComparison.Ordinal).ReplaceLineEndings("\n");

    /// <summary>The baseline Baselines/<paramref name="name"/>.generated.txt; rewritten from <paramref name="actual"/> when UPDATE_BASELINES=1.</summary>
    public static string Baseline(string name, string actual)
    {
        string path = Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "Baselines", name + ".generated.txt");
        if (Environment.GetEnvironmentVariable("UPDATE_BASELINES") == "1")
        {
            File.WriteAllText(path, Normalize(actual));
        }
        return File.ReadAllText(path).ReplaceLineEndings("\n");
    }

    /// <summary>
    /// Runs <paramref name="generator"/> on <paramref name="compilation"/>, then after adding an unrelated file,
    /// then after replacing the tree at <paramref name="path"/> with <paramref name="edited"/>: the reasons of the
    /// tracked step <paramref name="step"/> after each of the two edits.
    /// </summary>
    public static (IncrementalStepRunReason[] Unrelated, IncrementalStepRunReason[] Edited) RunEdits(
        IIncrementalGenerator generator, CSharpCompilation compilation, string step, string path, string edited)
    {
        var (driver, _, _) = Run(generator, compilation);
        CSharpCompilation unrelated = compilation.AddSyntaxTrees(CSharpSyntaxTree.ParseText("class Unrelated { }", path: "Other.cs"));
        (driver, _, _) = Run(generator, unrelated, driver);
        IncrementalStepRunReason[] afterUnrelated = Reasons(driver, step);
        CSharpCompilation changed = unrelated.ReplaceSyntaxTree(unrelated.SyntaxTrees.Single(t => t.FilePath == path), CSharpSyntaxTree.ParseText(edited, path: path));
        (driver, _, _) = Run(generator, changed, driver);
        return (afterUnrelated, Reasons(driver, step));
    }

    private static IncrementalStepRunReason[] Reasons(GeneratorDriver driver, string step)
        => [.. driver.GetRunResult().Results.Single().TrackedSteps[step].SelectMany(s => s.Outputs).Select(o => o.Reason)];

    public static bool IsCached(IncrementalStepRunReason reason) => reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged;

    /// <summary>Asserts that no property of a spec type holds a Roslyn symbol, location, syntax node or compilation.</summary>
    public static void AssertPlainData(params Type[] types)
    {
        foreach (Type type in types)
        {
            foreach (System.Reflection.PropertyInfo p in type.GetProperties())
            {
                Assert.False(typeof(ISymbol).IsAssignableFrom(p.PropertyType) || typeof(Compilation).IsAssignableFrom(p.PropertyType)
                    || typeof(Location).IsAssignableFrom(p.PropertyType) || typeof(SyntaxNode).IsAssignableFrom(p.PropertyType),
                    $"{type.Name}.{p.Name} is a {p.PropertyType.Name}: specs must be plain data so the pipeline caches");
            }
        }
    }

    /// <summary>Global analyzer-config options as the SDK writes them for CompilerVisibleProperty items.</summary>
    private sealed class BuildProperties(IReadOnlyDictionary<string, string> properties) : Microsoft.CodeAnalysis.Diagnostics.AnalyzerConfigOptionsProvider
    {
        public override Microsoft.CodeAnalysis.Diagnostics.AnalyzerConfigOptions GlobalOptions { get; } = new Options(properties);

        public override Microsoft.CodeAnalysis.Diagnostics.AnalyzerConfigOptions GetOptions(SyntaxTree tree) => Options.Empty;

        public override Microsoft.CodeAnalysis.Diagnostics.AnalyzerConfigOptions GetOptions(AdditionalText textFile) => Options.Empty;

        private sealed class Options(IReadOnlyDictionary<string, string> properties) : Microsoft.CodeAnalysis.Diagnostics.AnalyzerConfigOptions
        {
            public static Options Empty { get; } = new(new Dictionary<string, string>());

            public override bool TryGetValue(string key, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? value)
                => properties.TryGetValue(key.StartsWith("build_property.", StringComparison.Ordinal) ? key["build_property.".Length..] : key, out value);
        }
    }
}
