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

        context.RegisterSourceOutput(all, static (spc, results) =>
        {
            foreach (DiagnosticInfo d in Emitter.Diagnose(results))
            {
                spc.ReportDiagnostic(d.ToDiagnostic());
            }
            ImmutableArray<BackendSpec> specs = Emitter.Valid(results);
            if (!specs.IsEmpty)
            {
                spc.AddSource("ReplicaClientRegistry.g.cs", Emitter.EmitRegistry(specs));
            }
        });
        context.RegisterSourceOutput(backends.Where(static r => r.Spec is not null).Select(static (r, _) => r.Spec!).WithTrackingName("BackendSettingsSpec"),
            static (spc, spec) => spc.AddSource(Emitter.SettingsFileName(spec), Emitter.EmitSettings(spec)));
    }
}
