namespace Litestream.Generators;

/// <summary>What every generated file says about its origin.</summary>
internal static class GeneratedCodeInfo
{
    /// <summary>The generator assembly's version, for <c>[GeneratedCode]</c> (baselines replace it with VERSION).</summary>
    public static string Version => typeof(GeneratedCodeInfo).Assembly.GetName().Version?.ToString() ?? "0.0.0.0";

    /// <summary>The <c>[GeneratedCode]</c> attribute line, indented.</summary>
    public static string Attribute(string indent) => $"{indent}[global::System.CodeDom.Compiler.GeneratedCode(\"Litestream.Generators\", \"{Version}\")]";
}
