using System;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Litestream.Generators;

/// <summary>The pipeline entry both generators share.</summary>
internal static class AttributedClasses
{
    /// <summary>Every class carrying <paramref name="attributeName"/>, parsed into plain data and tracked as <paramref name="trackingName"/>.</summary>
    public static IncrementalValuesProvider<T> Parse<T>(this SyntaxValueProvider provider, string attributeName, Func<GeneratorAttributeSyntaxContext, CancellationToken, T> parse, string trackingName)
        => provider.ForAttributeWithMetadataName(attributeName, static (node, _) => node is ClassDeclarationSyntax, parse).WithTrackingName(trackingName);
}
