using System;
using System.Collections.Immutable;
using System.Linq;

namespace Litestream.Generators.BackendRegistry;

/// <summary>
/// The backends a build registers, from the MSBuild property <see cref="Property"/>: names separated by commas,
/// semicolons or spaces; empty means every backend. A backend is selected by any of its names.
/// </summary>
/// <param name="Names">The names asked for, sorted; empty = all.</param>
internal sealed record BackendSelection(EquatableArray<string> Names)
{
    /// <summary>The analyzer-config key of the MSBuild property (made visible by CompilerVisibleProperty).</summary>
    public const string Property = "build_property.LitestreamBackends";

    public bool All => Names.Count == 0;

    public static BackendSelection Parse(string? text)
        => new(new EquatableArray<string>((text ?? "").Split(new[] { ',', ';', ' ' }, StringSplitOptions.RemoveEmptyEntries)
            .Select(n => n.Trim()).Distinct().OrderBy(n => n, StringComparer.Ordinal).ToImmutableArray()));

    public bool Includes(BackendSpec spec) => All || spec.Names.Any(n => Names.Contains(n));
}
