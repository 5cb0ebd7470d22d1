using Microsoft.CodeAnalysis;

namespace Litestream.Generators.ConfigBinding;

/// <summary>
/// Turns every class marked <c>[Litestream.Aot.Config.ConfigSection]</c> into a YAML binder: a
/// <c>Bind</c> that walks a mapping and a <c>TryBindKey</c> switch over the section's keys (its
/// settable properties in kebab-case, <c>[ConfigKey]</c> overrides, <c>[ConfigNotSupported]</c> keys),
/// reading scalars, nested sections and lists through <c>ConfigNode</c>. No reflection, so the
/// trimmed NativeAOT exe binds its config with no warnings (STYLE.md rules 15–16).
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class ConfigBindingGenerator : IIncrementalGenerator
{
    internal const string AttributeName = "Litestream.Aot.Config.ConfigSectionAttribute";

    /// <inheritdoc />
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        IncrementalValuesProvider<ConfigParseResult> results = context.SyntaxProvider.Parse(AttributeName, Parser.Parse, "ConfigParse");

        IncrementalValuesProvider<ConfigTypeSpec> specs = results
            .Where(static r => r.Spec is not null)
            .Select(static (r, _) => r.Spec!)
            .WithTrackingName("ConfigSpec");

        context.RegisterSourceOutput(results.SelectMany(static (r, _) => r.Diagnostics), static (spc, d) => spc.ReportDiagnostic(d.ToDiagnostic()));
        context.RegisterSourceOutput(specs, static (spc, spec) => spc.AddSource(Emitter.FileName(spec), Emitter.Emit(spec)));
    }
}
