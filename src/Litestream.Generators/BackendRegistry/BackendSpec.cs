using System;

namespace Litestream.Generators.BackendRegistry;

/// <summary>How a backend key's text becomes its property's value (mirrors <c>Litestream.Storage.ReplicaKeyKind</c>).</summary>
internal enum KeyKind
{
    String,
    Boolean,
    Int32,
    Int64,
    Size,
    Duration,
    StringList,
}

/// <summary>One key of a backend's settings record: its property, its litestream.yml spelling, its kind.</summary>
/// <param name="Property">The C# property name.</param>
/// <param name="Key">The key as written in litestream.yml (kebab-case).</param>
/// <param name="Kind">How the text is read.</param>
/// <param name="Secret">[ReplicaSecret]: never printed.</param>
internal sealed record BackendKeySpec(string Property, string Key, KeyKind Kind, bool Secret);

/// <summary>
/// One [ReplicaBackend] class as the emitter needs it: strings only, no Roslyn symbols (cache-friendly).
/// </summary>
/// <param name="Names">The backend names it registers (URL schemes and config <c>type:</c> values), sorted.</param>
/// <param name="TypeName">The client class, fully qualified.</param>
/// <param name="SettingsType">The settings record, fully qualified.</param>
/// <param name="SettingsNamespace">The settings record's namespace ("" for the global one).</param>
/// <param name="SettingsName">The settings record's name as declared.</param>
/// <param name="Keys">The settings record's keys, in declaration order.</param>
internal sealed record BackendSpec(
    EquatableArray<string> Names,
    string TypeName,
    string SettingsType,
    string SettingsNamespace,
    string SettingsName,
    EquatableArray<BackendKeySpec> Keys) : IComparable<BackendSpec>
{
    public int CompareTo(BackendSpec? other) => string.CompareOrdinal(TypeName, other?.TypeName);
}

/// <summary>The parser's result for one attributed class.</summary>
internal sealed record BackendParseResult(BackendSpec? Spec, EquatableArray<DiagnosticInfo> Diagnostics);
