using Microsoft.CodeAnalysis;

namespace Litestream.Generators;

/// <summary>Every diagnostic the generators report, in one place.</summary>
internal static class DiagnosticDescriptors
{
    private const string Category = "Litestream.Generators";

    public static readonly DiagnosticDescriptor MissingInterface = new("LSG0001", "Replica backend does not implement IReplicaClient", "{0}", Category, DiagnosticSeverity.Error, true);
    public static readonly DiagnosticDescriptor MissingCreate = new("LSG0002", "Replica backend has no Create(ReplicaSettings) factory", "{0}", Category, DiagnosticSeverity.Error, true);
    public static readonly DiagnosticDescriptor DuplicateName = new("LSG0003", "Replica backend name registered twice", "{0}", Category, DiagnosticSeverity.Error, true);
    public static readonly DiagnosticDescriptor BadName = new("LSG0004", "Replica backend name is not a lowercase scheme", "{0}", Category, DiagnosticSeverity.Error, true);

    public static DiagnosticDescriptor ById(string id) => id switch
    {
        "LSG0001" => MissingInterface,
        "LSG0002" => MissingCreate,
        "LSG0003" => DuplicateName,
        _ => BadName,
    };
}
