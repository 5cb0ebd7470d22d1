using System.Diagnostics.CodeAnalysis;

namespace Litestream.Ltx;

/// <summary>
/// Throw sites for malformed LTX input (as System.Formats.Tar's <c>TarHelpers</c>): a call instead of an inline
/// <c>throw</c> keeps the message formatting out of the hot readers' bodies, so they stay small enough to inline.
/// </summary>
internal static class LtxThrow
{
    /// <summary>Throws <see cref="LtxFormatException"/> with <paramref name="message"/>.</summary>
    [DoesNotReturn]
    public static void Format(string message) => throw new LtxFormatException(message);

    /// <summary>Throws <see cref="LtxFormatException"/> where an expression of type <typeparamref name="T"/> is expected.</summary>
    [DoesNotReturn]
    public static T Format<T>(string message) => throw new LtxFormatException(message);
}
