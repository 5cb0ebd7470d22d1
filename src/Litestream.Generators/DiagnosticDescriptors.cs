using System;
using Microsoft.CodeAnalysis;

namespace Litestream.Generators;

/// <summary>Every diagnostic the generators report, in one place.</summary>
internal static class DiagnosticDescriptors
{
    private const string Category = "Litestream.Generators";

    public static readonly DiagnosticDescriptor MissingInterface = new("LSG0001", "Replica backend does not implement IReplicaClient", "{0}", Category, DiagnosticSeverity.Error, true);
    public static readonly DiagnosticDescriptor MissingCreate = new("LSG0002", "Replica backend has no Create(TSettings) factory", "{0}", Category, DiagnosticSeverity.Error, true);
    public static readonly DiagnosticDescriptor DuplicateName = new("LSG0003", "Replica backend name registered twice", "{0}", Category, DiagnosticSeverity.Error, true);
    public static readonly DiagnosticDescriptor BadName = new("LSG0004", "Replica backend name is not a lowercase scheme", "{0}", Category, DiagnosticSeverity.Error, true);
    public static readonly DiagnosticDescriptor SectionNotPartial = new("LSG0005", "Config section is not a top-level, non-generic partial class", "{0}", Category, DiagnosticSeverity.Error, true);
    public static readonly DiagnosticDescriptor UnsupportedPropertyType = new("LSG0006", "Config property type cannot be bound", "{0}", Category, DiagnosticSeverity.Error, true);
    public static readonly DiagnosticDescriptor DuplicateKey = new("LSG0007", "Config key used twice in one section", "{0}", Category, DiagnosticSeverity.Error, true);
    public static readonly DiagnosticDescriptor BadKey = new("LSG0008", "Config key is not lowercase kebab-case", "{0}", Category, DiagnosticSeverity.Error, true);
    public static readonly DiagnosticDescriptor MisplacedAttribute = new("LSG0009", "Config attribute does not fit the property", "{0}", Category, DiagnosticSeverity.Error, true);
    public static readonly DiagnosticDescriptor BadSettings = new("LSG0010", "Replica backend settings record cannot be bound", "{0}", Category, DiagnosticSeverity.Error, true);
    public static readonly DiagnosticDescriptor UnsupportedKeyType = new("LSG0011", "Replica backend key type cannot be read", "{0}", Category, DiagnosticSeverity.Error, true);
    public static readonly DiagnosticDescriptor ConflictingKeyKinds = new("LSG0012", "Replica backend key read as different kinds", "{0}", Category, DiagnosticSeverity.Error, true);
    public static readonly DiagnosticDescriptor UnknownSelectedBackend = new("LSG0013", "LitestreamBackends names an unknown backend", "{0}", Category, DiagnosticSeverity.Error, true);

    public static DiagnosticDescriptor ById(string id) => id switch
    {
        "LSG0001" => MissingInterface,
        "LSG0002" => MissingCreate,
        "LSG0003" => DuplicateName,
        "LSG0004" => BadName,
        "LSG0005" => SectionNotPartial,
        "LSG0006" => UnsupportedPropertyType,
        "LSG0007" => DuplicateKey,
        "LSG0008" => BadKey,
        "LSG0009" => MisplacedAttribute,
        "LSG0010" => BadSettings,
        "LSG0011" => UnsupportedKeyType,
        "LSG0012" => ConflictingKeyKinds,
        "LSG0013" => UnknownSelectedBackend,
        _ => throw new ArgumentOutOfRangeException(nameof(id), id, "no such diagnostic"),
    };
}
