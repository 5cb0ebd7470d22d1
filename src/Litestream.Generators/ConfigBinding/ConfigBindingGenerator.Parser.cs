using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Litestream.Generators.ConfigBinding;

/// <summary>Symbols → <see cref="ConfigTypeSpec"/>, or the diagnostics that say why not.</summary>
internal static class Parser
{
    private const string Namespace = "Litestream.Aot.Config.";
    private const string KeyAttribute = Namespace + "ConfigKeyAttribute";
    private const string NotSupportedAttribute = Namespace + "ConfigNotSupportedAttribute";
    private const string RequiredAttribute = Namespace + "ConfigRequiredAttribute";
    private const string SizeAttribute = Namespace + "ConfigSizeAttribute";
    private const string OneOfAttribute = Namespace + "ConfigOneOfAttribute";
    private const string InlineAttribute = Namespace + "ConfigInlineAttribute";
    private const string OtherKeysAttribute = Namespace + "ConfigOtherKeysAttribute";

    public static ConfigParseResult Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
    {
        var type = (INamedTypeSymbol)context.TargetSymbol;
        bool isPartial = type.DeclaringSyntaxReferences.Any(r =>
            r.GetSyntax(cancellationToken) is ClassDeclarationSyntax c && c.Modifiers.Any(SyntaxKind.PartialKeyword));
        if (!isPartial || type.ContainingType is not null || type.IsGenericType)
        {
            return Fail(DiagnosticInfo.At(type, "LSG0005",
                $"{type.Name} is marked [ConfigSection] but is not a top-level, non-generic partial class: the generator adds its Bind method to it"));
        }

        var diagnostics = new List<DiagnosticInfo>();
        var owners = new Dictionary<string, string>(System.StringComparer.Ordinal);
        void Claim(ISymbol at, string key, string owner)
        {
            if (!KeyNames.IsKebabCase(key))
            {
                diagnostics.Add(DiagnosticInfo.At(at, "LSG0008", $"config key \"{key}\" of {type.Name} must be lowercase words joined by '-'"));
            }
            else if (owners.TryGetValue(key, out string? first))
            {
                diagnostics.Add(DiagnosticInfo.At(at, "LSG0007", $"config key \"{key}\" of {type.Name} is claimed by both {first} and {owner}"));
            }
            else
            {
                owners.Add(key, owner);
            }
        }

        var properties = ImmutableArray.CreateBuilder<ConfigPropertySpec>();
        foreach (IPropertySymbol property in type.GetMembers().OfType<IPropertySymbol>())
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (property.IsStatic || property.IsIndexer || property.SetMethod is null || property.SetMethod.IsInitOnly)
            {
                continue;
            }
            ConfigPropertySpec? spec = ParseProperty(type, property, diagnostics);
            if (spec is not null)
            {
                if (!spec.Inline)
                {
                    Claim(property, spec.Key, property.Name);
                }
                properties.Add(spec);
            }
        }

        var notSupported = ImmutableArray.CreateBuilder<NotSupportedSpec>();
        foreach (AttributeData attribute in type.GetAttributes().Where(a => a.AttributeClass?.ToDisplayString() == NotSupportedAttribute))
        {
            string[] keys = StringArray(attribute);
            foreach (string key in keys)
            {
                Claim(type, key, "[ConfigNotSupported]");
            }
            notSupported.Add(new NotSupportedSpec(new EquatableArray<string>(keys.ToImmutableArray()), NamedString(attribute, "Message") ?? "not supported yet"));
        }

        if (diagnostics.Count > 0)
        {
            return new ConfigParseResult(null, new EquatableArray<DiagnosticInfo>(diagnostics.ToImmutableArray()));
        }
        string ns = type.ContainingNamespace.IsGlobalNamespace ? "" : type.ContainingNamespace.ToDisplayString();
        return new ConfigParseResult(
            new ConfigTypeSpec(ns, type.Name, type.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat),
                new EquatableArray<ConfigPropertySpec>(properties.ToImmutable()), new EquatableArray<NotSupportedSpec>(notSupported.ToImmutable()),
                type.GetAttributes().Where(a => a.AttributeClass?.ToDisplayString() == OtherKeysAttribute)
                    .Select(a => a.ConstructorArguments.Length == 1 ? a.ConstructorArguments[0].Value as string : null).FirstOrDefault() ?? ""),
            default);
    }

    private static ConfigParseResult Fail(DiagnosticInfo diagnostic)
        => new(null, new EquatableArray<DiagnosticInfo>(ImmutableArray.Create(diagnostic)));

    private static ConfigPropertySpec? ParseProperty(INamedTypeSymbol owner, IPropertySymbol property, List<DiagnosticInfo> diagnostics)
    {
        ITypeSymbol type = property.Type;
        bool isList = false;
        if (type is INamedTypeSymbol { IsGenericType: true } list && list.OriginalDefinition.ToDisplayString() == "System.Collections.Generic.List<T>")
        {
            isList = true;
            type = list.TypeArguments[0];
        }
        ValueKind? classified = Classify(type);
        if (classified is not ValueKind kind)
        {
            diagnostics.Add(DiagnosticInfo.At(property, "LSG0006",
                $"{owner.Name}.{property.Name} is a {property.Type.ToDisplayString()}: config properties are string, bool, int, long, TimeSpan, UnixFileMode (each optionally nullable), [ConfigSection] classes, or List<T> of those"));
            return null;
        }
        AttributeData? Find(string name) => property.GetAttributes().FirstOrDefault(a => a.AttributeClass?.ToDisplayString() == name);
        void Misplaced(string message) => diagnostics.Add(DiagnosticInfo.At(property, "LSG0009", $"{owner.Name}.{property.Name}: {message}"));

        bool required = Find(RequiredAttribute) is not null;
        if (required && !(property.Type.IsReferenceType || property.Type.OriginalDefinition.SpecialType == SpecialType.System_Nullable_T))
        {
            Misplaced("[ConfigRequired] needs a nullable property (a missing key leaves it null)");
        }
        if (Find(SizeAttribute) is not null)
        {
            if (kind == ValueKind.Int64)
            {
                kind = ValueKind.Size;
            }
            else
            {
                Misplaced("[ConfigSize] needs a long property");
            }
        }
        string error = "";
        ImmutableArray<string> oneOf = ImmutableArray<string>.Empty;
        bool ignoreCase = false;
        if (Find(OneOfAttribute) is { } oneOfAttribute)
        {
            if (kind == ValueKind.String)
            {
                kind = ValueKind.OneOf;
                oneOf = StringArray(oneOfAttribute).ToImmutableArray();
                ignoreCase = oneOfAttribute.NamedArguments.Any(a => a.Key == "IgnoreCase" && a.Value.Value is true);
                error = NamedString(oneOfAttribute, "Error") ?? "invalid value \"{0}\"";
            }
            else
            {
                Misplaced("[ConfigOneOf] needs a string property");
            }
        }
        bool inline = Find(InlineAttribute) is not null;
        if (inline && (kind != ValueKind.Section || isList))
        {
            Misplaced("[ConfigInline] needs a [ConfigSection] property");
        }
        string key = Find(KeyAttribute) is { ConstructorArguments.Length: 1 } keyAttribute && keyAttribute.ConstructorArguments[0].Value is string name ? name : KeyNames.KebabCase(property.Name);
        string elementType = type.WithNullableAnnotation(NullableAnnotation.NotAnnotated).ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat);
        return new ConfigPropertySpec(property.Name, inline ? "" : key, kind, isList, elementType, required, inline,
            new EquatableArray<string>(oneOf), ignoreCase, error);
    }

    private static ValueKind? Classify(ITypeSymbol type)
    {
        if (type is INamedTypeSymbol { OriginalDefinition.SpecialType: SpecialType.System_Nullable_T } nullable)
        {
            type = nullable.TypeArguments[0];
        }
        switch (type.SpecialType)
        {
            case SpecialType.System_String: return ValueKind.String;
            case SpecialType.System_Boolean: return ValueKind.Boolean;
            case SpecialType.System_Int32: return ValueKind.Int32;
            case SpecialType.System_Int64: return ValueKind.Int64;
        }
        switch (type.ToDisplayString())
        {
            case "System.TimeSpan": return ValueKind.Duration;
            case "System.IO.UnixFileMode": return ValueKind.FileMode;
        }
        if (type.GetAttributes().Any(a => a.AttributeClass?.ToDisplayString() == ConfigBindingGenerator.AttributeName))
        {
            return ValueKind.Section;
        }
        return null;
    }

    private static string[] StringArray(AttributeData attribute)
        => attribute.ConstructorArguments.Length == 1 && attribute.ConstructorArguments[0].Kind == TypedConstantKind.Array
            ? attribute.ConstructorArguments[0].Values.Select(v => v.Value as string ?? "").ToArray()
            : [];

    private static string? NamedString(AttributeData attribute, string name)
        => attribute.NamedArguments.Where(a => a.Key == name).Select(a => a.Value.Value as string).FirstOrDefault();
}
