using System.Diagnostics.CodeAnalysis;
using Litestream.Ltx;

namespace Litestream.Internal;

/// <summary>
/// The engine's throw site for LTX input that breaks a rule the engine checks (a replica's chain, a page past
/// the database): Litestream.Ltx keeps its own twin internal, as a format library's throw helper is not API.
/// </summary>
internal static class LtxThrow
{
    /// <summary>Throws <see cref="LtxFormatException"/> with <paramref name="message"/>.</summary>
    [DoesNotReturn]
    public static void Format(string message) => throw new LtxFormatException(message);

    /// <summary>Throws <paramref name="error"/> again with the name of the file it was found in before its message.</summary>
    [DoesNotReturn]
    public static void InFile(string fileName, LtxFormatException error) => throw new LtxFormatException($"{fileName}: {error.Message}", error);
}
