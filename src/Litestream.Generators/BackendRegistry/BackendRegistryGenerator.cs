using System.Collections.Immutable;
using Microsoft.CodeAnalysis;

namespace Litestream.Generators.BackendRegistry;

/// <summary>
/// Turns every class marked <c>[Litestream.Storage.ReplicaBackend("name")]</c> into a case of a
/// generated <c>ReplicaClientRegistry</c> switch: backend registration without reflection, static
/// constructors or assembly scanning (STYLE.md rule 13).
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
                spc.AddSource("ReplicaClientRegistry.g.cs", Emitter.Emit(specs));
            }
        });
    }
}
