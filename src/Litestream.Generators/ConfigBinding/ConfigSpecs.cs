namespace Litestream.Generators.ConfigBinding;

/// <summary>How one YAML value becomes a property value (or a list item).</summary>
internal enum ValueKind
{
    String,
    OneOf,
    Boolean,
    Int32,
    Int64,
    Size,
    Duration,
    FileMode,
    Section,
}

/// <summary>One [ConfigSection] class as the emitter needs it: strings only, no Roslyn symbols (cache-friendly).</summary>
/// <param name="Namespace">The namespace, "" for the global one.</param>
/// <param name="Name">The class name as declared.</param>
/// <param name="FullName">The fully qualified name (<c>global::…</c>).</param>
/// <param name="Properties">The bound properties, in declaration order.</param>
/// <param name="NotSupported">The [ConfigNotSupported] key groups.</param>
/// <param name="OtherKeys">The [ConfigOtherKeys] method offered every key the section does not declare, or "".</param>
internal sealed record ConfigTypeSpec(string Namespace, string Name, string FullName, EquatableArray<ConfigPropertySpec> Properties, EquatableArray<NotSupportedSpec> NotSupported, string OtherKeys);

/// <summary>One bound property.</summary>
/// <param name="Name">The C# property name.</param>
/// <param name="Key">The YAML key (or "" for an inline section).</param>
/// <param name="Kind">How the value (or each list item) is read.</param>
/// <param name="IsList">A <c>List&lt;T&gt;</c> read from a YAML list.</param>
/// <param name="ElementType">The fully qualified item type: the section for <see cref="ValueKind.Section"/>, the scalar type for lists.</param>
/// <param name="Required">[ConfigRequired]: the section fails when the key is absent.</param>
/// <param name="Inline">[ConfigInline]: the section's keys sit at this level.</param>
/// <param name="OneOfValues">The accepted values for <see cref="ValueKind.OneOf"/>.</param>
/// <param name="IgnoreCase">Compare <paramref name="OneOfValues"/> case-insensitively.</param>
/// <param name="Error">The <see cref="ValueKind.OneOf"/> error format, <c>{0}</c> for the value.</param>
internal sealed record ConfigPropertySpec(
    string Name,
    string Key,
    ValueKind Kind,
    bool IsList,
    string ElementType,
    bool Required,
    bool Inline,
    EquatableArray<string> OneOfValues,
    bool IgnoreCase,
    string Error);

/// <summary>Keys upstream accepts that bind to "not supported yet" with <paramref name="Message"/>.</summary>
internal sealed record NotSupportedSpec(EquatableArray<string> Keys, string Message);

/// <summary>The parser's result for one attributed class: a spec when there are no errors.</summary>
internal sealed record ConfigParseResult(ConfigTypeSpec? Spec, EquatableArray<DiagnosticInfo> Diagnostics);
