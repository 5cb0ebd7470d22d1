using System.Security.Cryptography;

namespace Litestream;

/// <summary>
/// What a <see cref="CryptographicException"/> almost always means on Linux: .NET reads random bytes (request ids,
/// TLS, signing) from <c>/dev/urandom</c>, and a bare chroot or a container started without <c>/dev</c> has none.
/// The runtime's own text ("Error occurred during a cryptographic operation.") names nothing to fix.
/// </summary>
public static class RandomSource
{
    /// <summary>The device .NET reads random bytes from.</summary>
    public const string Device = "/dev/urandom";

    /// <summary>One line saying what failed and, when the device is missing, that it is.</summary>
    public static string Describe(CryptographicException error) => File.Exists(Device)
        ? $"a cryptographic operation failed ({error.Message}); check that {Device} is readable"
        : $"{Device} does not exist, and .NET reads random bytes from it ({error.Message})";

    /// <summary>What to do about it, for a hint line.</summary>
    public const string Hint = $"provide {Device} (mount /dev into the chroot or container, or: mknod -m 666 {Device} c 1 9)";
}
