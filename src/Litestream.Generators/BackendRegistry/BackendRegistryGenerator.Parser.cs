using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;

namespace Litestream.Generators.BackendRegistry;

/// <summary>Symbols → <see cref="BackendSpec"/> or a diagnostic.</summary>
internal static class Parser
{
    private const string ClientInterface = "Litestream.Storage.IReplicaClient";
    private const string SettingsType = "Litestream.Storage.ReplicaSettings";

    public static BackendParseResult Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
    {
        var type = (INamedTypeSymbol)context.TargetSymbol;
        DiagnosticInfo Fail(string id, string message) => DiagnosticInfo.At(type, id, message);

        AttributeData attribute = context.Attributes[0];
        string? name = attribute.ConstructorArguments.Length == 1 ? attribute.ConstructorArguments[0].Value as string : null;
        string typeName = type.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat);
        if (string.IsNullOrEmpty(name) || name!.Any(c => !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9')))
        {
            return new BackendParseResult(null, Fail("LSG0004", $"backend name \"{name}\" on {type.Name} must be lowercase letters and digits (it is a URL scheme)"));
        }
        if (!type.AllInterfaces.Any(i => i.ToDisplayString() == ClientInterface))
        {
            return new BackendParseResult(null, Fail("LSG0001", $"{type.Name} is marked [ReplicaBackend(\"{name}\")] but does not implement IReplicaClient"));
        }
        bool hasCreate = type.GetMembers("Create").OfType<IMethodSymbol>().Any(m =>
            m.IsStatic && m.DeclaredAccessibility == Accessibility.Public && m.Parameters.Length == 1
            && m.Parameters[0].Type.ToDisplayString() == SettingsType && m.ReturnType.ToDisplayString() == ClientInterface);
        if (!hasCreate)
        {
            return new BackendParseResult(null, Fail("LSG0002", $"{type.Name} needs 'public static IReplicaClient Create(ReplicaSettings settings)' to be registered as \"{name}\""));
        }
        return new BackendParseResult(new BackendSpec(name!, typeName), null);
    }
}
