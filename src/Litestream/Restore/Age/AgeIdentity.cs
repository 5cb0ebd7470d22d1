using System.Security.Cryptography;
using Litestream.Internal;
using Org.BouncyCastle.Math.EC.Rfc7748;

namespace Litestream.Restore.Age;

/// <summary>
/// An age X25519 identity (<c>AGE-SECRET-KEY-1…</c>, age-encryption.org/v1 "X25519 recipient type"): unwraps the
/// file key from the <c>-&gt; X25519</c> stanza addressed to it. X25519 comes from BouncyCastle (the BCL has none,
/// and the engine already links BouncyCastle for SSH.NET and NATS), the AEAD and HKDF from the BCL: no new package,
/// no reflection, AOT clean.
/// </summary>
public sealed class AgeIdentity
{
    private const string SecretKeyHrp = "age-secret-key-";
    private static readonly byte[] s_wrapInfo = "age-encryption.org/v1/X25519"u8.ToArray();

    private readonly byte[] _secret;
    private readonly byte[] _publicKey;

    private AgeIdentity(byte[] secret)
    {
        _secret = secret;
        _publicKey = new byte[X25519.PointSize];
        X25519.ScalarMultBase(secret, 0, _publicKey, 0);
    }

    /// <summary>
    /// Checks that <paramref name="text"/> holds age identities as <see cref="RestoreOptions.AgeIdentities"/> takes them
    /// (see <see cref="ParseAll"/>): config validation, before any restore needs them.
    /// </summary>
    /// <exception cref="FormatException">A line is not an X25519 identity, or there is none; the message names the line.</exception>
    public static void Validate(string text) => _ = ParseAll(text);

    /// <summary>
    /// The identities in <paramref name="text"/>, read as age's identity files are (upstream v0.3 passes each
    /// configured string to <c>age.ParseIdentities</c>): one identity a line, blank lines and <c>#</c> comments skipped.
    /// </summary>
    /// <exception cref="FormatException">A line is not an X25519 identity, or there is none.</exception>
    internal static List<AgeIdentity> ParseAll(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var identities = new List<AgeIdentity>();
        int lineNumber = 0;
        foreach (string raw in text.Split('\n'))
        {
            lineNumber++;
            string line = raw.TrimEnd('\r').Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }
            identities.Add(Parse(line, lineNumber));
        }
        return identities.Count > 0 ? identities : throw new FormatException("no age identity found (expected AGE-SECRET-KEY-1…)");
    }

    private static AgeIdentity Parse(string line, int lineNumber)
    {
        if (line.StartsWith("AGE-PLUGIN-", StringComparison.OrdinalIgnoreCase))
        {
            throw new FormatException($"age identity on line {lineNumber}: plugin identities are not supported");
        }
        if (line.StartsWith("age1", StringComparison.OrdinalIgnoreCase))
        {
            throw new FormatException($"age identity on line {lineNumber} is a recipient (public key age1…), not an identity (AGE-SECRET-KEY-1…)");
        }
        // Never echo the line: it may be a mistyped secret key.
        if (!Bech32.TryDecode(line, out string hrp, out byte[] data) || hrp != SecretKeyHrp || !line.StartsWith("AGE-", StringComparison.Ordinal))
        {
            throw new FormatException($"age identity on line {lineNumber} is not a valid AGE-SECRET-KEY-1… string");
        }
        if (data.Length != X25519.ScalarSize)
        {
            throw new FormatException($"age identity on line {lineNumber} holds {data.Length} bytes, expected {X25519.ScalarSize}");
        }
        return new AgeIdentity(data);
    }

    /// <summary>
    /// The file key of an X25519 stanza (args: the ephemeral share; body: the wrapped key), or null when the stanza
    /// is not addressed to this identity.
    /// </summary>
    /// <exception cref="InvalidDataException">The stanza is malformed.</exception>
    internal byte[]? Unwrap(AgeStanza stanza)
    {
        if (stanza.Args.Length != 1)
        {
            throw new InvalidDataException("malformed X25519 stanza: expected one argument");
        }
        byte[] share = AgeHeader.DecodeBase64(stanza.Args[0]) is { Length: X25519.PointSize } s
            ? s
            : throw new InvalidDataException("malformed X25519 stanza: ephemeral share is not 32 bytes");
        if (stanza.Body.Length != AgeHeader.FileKeySize + 16)
        {
            throw new InvalidDataException("malformed X25519 stanza: wrapped file key is not 32 bytes");
        }
        byte[] shared = new byte[X25519.PointSize];
        X25519.ScalarMult(_secret, 0, share, 0, shared, 0);
        // A low-order share gives the all-zero secret: age rejects it (the spec's "MUST" check).
        if (CryptographicOperations.FixedTimeEquals(shared, new byte[X25519.PointSize]))
        {
            throw new InvalidDataException("malformed X25519 stanza: low-order ephemeral share");
        }
        Span<byte> salt = stackalloc byte[2 * X25519.PointSize];
        share.CopyTo(salt);
        _publicKey.CopyTo(salt[X25519.PointSize..]);
        Span<byte> wrapKey = stackalloc byte[32];
        HKDF.DeriveKey(HashAlgorithmName.SHA256, shared, wrapKey, salt, s_wrapInfo);
        byte[] fileKey = new byte[AgeHeader.FileKeySize];
        using var aead = new ChaCha20Poly1305(wrapKey);
        try
        {
            aead.Decrypt(stackalloc byte[12], stanza.Body.AsSpan(0, AgeHeader.FileKeySize), stanza.Body.AsSpan(AgeHeader.FileKeySize), fileKey);
            return fileKey;
        }
        catch (AuthenticationTagMismatchException)
        {
            // Addressed to another identity.
            return null;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(shared);
            CryptographicOperations.ZeroMemory(wrapKey);
        }
    }
}
