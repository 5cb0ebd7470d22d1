using System.Collections.Immutable;
using Microsoft.CodeAnalysis;

namespace Litestream.Generators.BackendRegistry;

/// <summary>
/// Turns every class marked <c>[Litestream.Storage.ReplicaBackend("name")]</c> into cases of a generated
/// <c>ReplicaClientRegistry</c> (create, bind settings, parse a URL, know a config key) and gives the backend's
/// settings record its key binding: backend registration without reflection, static constructors or
/// assembly scanning (STYLE.md rule 13), and without the generic layer knowing any backend's keys.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class BackendRegistryGenerator : IIncrementalGenerator
{
    internal const string AttributeName = "Litestream.Storage.ReplicaBackendAttribute";

    /// <inheritdoc />
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        IncrementalValuesProvider<BackendParseResult> backends = context.SyntaxProvider.Parse(AttributeName, Parser.Parse, "BackendSpec");

        IncrementalValueProvider<ImmutableArray<BackendParseResult>> all = backends.Collect().WithTrackingName("BackendSpecs");

        // The MSBuild property LitestreamBackends ("file,s3"; empty = all) picks the backends this build registers,
        // so the trimmer drops the others' clients and libraries (publish.sh --backends).
        IncrementalValueProvider<BackendSelection> selection = context.AnalyzerConfigOptionsProvider
            .Select(static (options, _) => BackendSelection.Parse(options.GlobalOptions.TryGetValue(BackendSelection.Property, out string? value) ? value : null))
            .WithTrackingName("BackendSelection");

        context.RegisterSourceOutput(all.Combine(selection), static (spc, input) =>
        {
            (ImmutableArray<BackendParseResult> results, BackendSelection selected) = input;
            foreach (DiagnosticInfo d in Emitter.Diagnose(results, selected))
            {
                spc.ReportDiagnostic(d.ToDiagnostic());
            }
            ImmutableArray<BackendSpec> specs = Emitter.Valid(results);
            if (!specs.IsEmpty)
            {
                spc.AddSource("ReplicaClientRegistry.g.cs", Emitter.EmitRegistry(specs, selected));
            }
        });
        context.RegisterSourceOutput(backends.Where(static r => r.Spec is not null).Select(static (r, _) => r.Spec!).WithTrackingName("BackendSettingsSpec"),
            static (spc, spec) => spc.AddSource(Emitter.SettingsFileName(spec), Emitter.EmitSettings(spec)));
    }
}
