using System;

namespace Litestream.Generators.BackendRegistry;

/// <summary>One [ReplicaBackend] class as the emitter needs it: strings only, no Roslyn symbols (cache-friendly).</summary>
internal sealed record BackendSpec(string Name, string TypeName) : IComparable<BackendSpec>
{
    public int CompareTo(BackendSpec? other) => string.CompareOrdinal(Name, other?.Name);
}

/// <summary>The parser's result for one attributed class.</summary>
internal sealed record BackendParseResult(BackendSpec? Spec, DiagnosticInfo? Diagnostic);
