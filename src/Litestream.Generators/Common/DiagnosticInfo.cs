using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace Litestream.Generators;

/// <summary>A diagnostic to report, as plain data (no <see cref="Location"/>, so the pipeline caches).</summary>
internal sealed record DiagnosticInfo(string Id, string Message, string FilePath, int Line, int Column)
{
    /// <summary>The diagnostic at the first location of <paramref name="symbol"/>.</summary>
    public static DiagnosticInfo At(ISymbol symbol, string id, string message)
    {
        FileLinePositionSpan span = (symbol.Locations.Length > 0 ? symbol.Locations[0] : Location.None).GetLineSpan();
        return new DiagnosticInfo(id, message, span.Path ?? "", span.StartLinePosition.Line, span.StartLinePosition.Character);
    }

    public Diagnostic ToDiagnostic()
    {
        var position = new LinePosition(Line, Column);
        return Diagnostic.Create(DiagnosticDescriptors.ById(Id), Location.Create(FilePath, default, new LinePositionSpan(position, position)), Message);
    }
}
