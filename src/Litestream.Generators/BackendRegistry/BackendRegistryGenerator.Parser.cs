using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Litestream.Generators.BackendRegistry;

/// <summary>Symbols → <see cref="BackendSpec"/>, or the diagnostics that say why not.</summary>
internal static class Parser
{
    private const string Namespace = "Litestream.Storage.";
    private const string ClientInterface = Namespace + "IReplicaClient";
    private const string SettingsBase = Namespace + "ReplicaBackendSettings";
    private const string GenericSettings = Namespace + "ReplicaSettings";
    private const string UrlParts = Namespace + "ReplicaUrlParts";
    private const string KeyAttribute = Namespace + "ReplicaKeyAttribute";
    private const string SecretAttribute = Namespace + "ReplicaSecretAttribute";
    private const string SizeAttribute = Namespace + "ReplicaSizeAttribute";

    public static BackendParseResult Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
    {
        var type = (INamedTypeSymbol)context.TargetSymbol;
        BackendParseResult Fail(string id, string message)
            => new(null, new EquatableArray<DiagnosticInfo>(ImmutableArray.Create(DiagnosticInfo.At(type, id, message))));

        var names = new List<string>();
        foreach (AttributeData attribute in context.Attributes)
        {
            string? name = attribute.ConstructorArguments.Length == 1 ? attribute.ConstructorArguments[0].Value as string : null;
            if (string.IsNullOrEmpty(name) || name!.Any(c => !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9')))
            {
                return Fail("LSG0004", $"backend name \"{name}\" on {type.Name} must be lowercase letters and digits (it is a URL scheme)");
            }
            names.Add(name!);
        }
        names.Sort(System.StringComparer.Ordinal);
        string first = names[0];
        if (!type.AllInterfaces.Any(i => i.ToDisplayString() == ClientInterface))
        {
            return Fail("LSG0001", $"{type.Name} is marked [ReplicaBackend(\"{first}\")] but does not implement IReplicaClient");
        }
        IMethodSymbol? create = type.GetMembers("Create").OfType<IMethodSymbol>().FirstOrDefault(m =>
            m.IsStatic && m.DeclaredAccessibility == Accessibility.Public && m.Parameters.Length == 1
            && m.ReturnType.ToDisplayString() == ClientInterface && DerivesFrom(m.Parameters[0].Type, SettingsBase));
        if (create?.Parameters[0].Type is not INamedTypeSymbol settings)
        {
            return Fail("LSG0002", $"{type.Name} needs 'public static IReplicaClient Create(TSettings settings)', TSettings a record derived from ReplicaBackendSettings, to be registered as \"{first}\"");
        }

        var diagnostics = new List<DiagnosticInfo>();
        bool isPartial = settings.DeclaringSyntaxReferences.Any(r =>
            r.GetSyntax(cancellationToken) is TypeDeclarationSyntax t && t.Modifiers.Any(SyntaxKind.PartialKeyword));
        if (!isPartial || !settings.IsRecord || !settings.IsSealed || settings.ContainingType is not null || settings.IsGenericType)
        {
            diagnostics.Add(DiagnosticInfo.At(settings, "LSG0010",
                $"{settings.Name} (the settings of backend \"{first}\") must be a top-level sealed partial record: the generator adds its key binding to it"));
        }
        bool hasParser = settings.GetMembers("ParseUrl").OfType<IMethodSymbol>().Any(m =>
            m.IsStatic && m.DeclaredAccessibility is Accessibility.Internal or Accessibility.Public && m.Parameters.Length == 1
            && m.Parameters[0].Type.ToDisplayString() == UrlParts && m.ReturnType.ToDisplayString() == GenericSettings);
        if (!hasParser)
        {
            diagnostics.Add(DiagnosticInfo.At(settings, "LSG0010",
                $"{settings.Name} needs 'internal static ReplicaSettings ParseUrl(ReplicaUrlParts url)': how a \"{first}://\" URL names its keys"));
        }

        var keys = ImmutableArray.CreateBuilder<BackendKeySpec>();
        var seen = new HashSet<string>(System.StringComparer.Ordinal);
        foreach (IPropertySymbol property in settings.GetMembers().OfType<IPropertySymbol>())
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (property.IsStatic || property.IsIndexer || property.DeclaredAccessibility != Accessibility.Public || property.SetMethod is null || property.IsImplicitlyDeclared)
            {
                continue;
            }
            AttributeData? Find(string name) => property.GetAttributes().FirstOrDefault(a => a.AttributeClass?.ToDisplayString() == name);
            string key = Find(KeyAttribute) is { ConstructorArguments.Length: 1 } keyAttribute && keyAttribute.ConstructorArguments[0].Value is string k
                ? k : KeyNames.KebabCase(property.Name);
            if (!KeyNames.IsKebabCase(key))
            {
                diagnostics.Add(DiagnosticInfo.At(property, "LSG0008", $"config key \"{key}\" of {settings.Name} must be lowercase words joined by '-'"));
                continue;
            }
            if (!seen.Add(key))
            {
                diagnostics.Add(DiagnosticInfo.At(property, "LSG0007", $"config key \"{key}\" of {settings.Name} is claimed twice"));
                continue;
            }
            KeyKind? kind = Classify(property.Type);
            bool size = Find(SizeAttribute) is not null;
            if (kind is null)
            {
                diagnostics.Add(DiagnosticInfo.At(property, "LSG0011",
                    $"{settings.Name}.{property.Name} is a {property.Type.ToDisplayString()}: backend keys are string, bool?, int?, long?, TimeSpan? or IReadOnlyList<string>? (null: not set, so the backend's default applies)"));
                continue;
            }
            if (size && kind != KeyKind.Int64)
            {
                diagnostics.Add(DiagnosticInfo.At(property, "LSG0009", $"{settings.Name}.{property.Name}: [ReplicaSize] needs a long? property"));
                continue;
            }
            keys.Add(new BackendKeySpec(property.Name, key, size ? KeyKind.Size : kind.Value, Find(SecretAttribute) is not null));
        }

        if (diagnostics.Count > 0)
        {
            return new BackendParseResult(null, new EquatableArray<DiagnosticInfo>(diagnostics.ToImmutableArray()));
        }
        string ns = settings.ContainingNamespace.IsGlobalNamespace ? "" : settings.ContainingNamespace.ToDisplayString();
        return new BackendParseResult(
            new BackendSpec(new EquatableArray<string>(names.ToImmutableArray()), type.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat),
                settings.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat), ns, settings.Name, new EquatableArray<BackendKeySpec>(keys.ToImmutable())),
            default);
    }

    private static bool DerivesFrom(ITypeSymbol type, string baseName)
    {
        for (INamedTypeSymbol? t = type.BaseType; t is not null; t = t.BaseType)
        {
            if (t.ToDisplayString() == baseName)
            {
                return true;
            }
        }
        return false;
    }

    private static KeyKind? Classify(ITypeSymbol type)
    {
        if (type.SpecialType == SpecialType.System_String)
        {
            return KeyKind.String;
        }
        if (type is INamedTypeSymbol { IsGenericType: true } list && list.OriginalDefinition.ToDisplayString() == "System.Collections.Generic.IReadOnlyList<T>"
            && list.TypeArguments[0].SpecialType == SpecialType.System_String)
        {
            return KeyKind.StringList;
        }
        if (type is not INamedTypeSymbol { OriginalDefinition.SpecialType: SpecialType.System_Nullable_T } nullable)
        {
            return null;
        }
        return nullable.TypeArguments[0].SpecialType switch
        {
            SpecialType.System_Boolean => KeyKind.Boolean,
            SpecialType.System_Int32 => KeyKind.Int32,
            SpecialType.System_Int64 => KeyKind.Int64,
            _ when nullable.TypeArguments[0].ToDisplayString() == "System.TimeSpan" => KeyKind.Duration,
            _ => null,
        };
    }
}
