using System.Security.Cryptography;
using System.Text;

namespace Litestream.Restore.Age;

/// <summary>
/// The header of an age v1 file (age-encryption.org/v1): the version line, the recipient stanzas and the MAC line,
/// parsed strictly (canonical unpadded base64, 64-column body lines, printable arguments) and bounded in size and
/// stanza count, so a hostile file costs at most <see cref="MaxSize"/> bytes of reading.
/// </summary>
internal sealed class AgeHeader
{
    /// <summary>The first line of every age v1 file, newline included.</summary>
    public static ReadOnlySpan<byte> Magic => "age-encryption.org/v1\n"u8;

    /// <summary>Size of the file key the stanzas wrap.</summary>
    public const int FileKeySize = 16;

    /// <summary>Largest header accepted: hundreds of X25519 stanzas; age itself writes a few hundred bytes.</summary>
    public const int MaxSize = 64 * 1024;

    private const int MaxStanzas = 256;
    private const int MaxArgs = 16;
    private const int BodyColumns = 64;
    private const int MacSize = 32;

    private static ReadOnlySpan<byte> StanzaPrefix => "-> "u8;
    private static ReadOnlySpan<byte> FooterPrefix => "--- "u8;
    private static readonly byte[] s_macInfo = "header"u8.ToArray();

    private readonly byte[] _macInput;
    private readonly byte[] _mac;

    private AgeHeader(List<AgeStanza> stanzas, byte[] macInput, byte[] mac)
    {
        Stanzas = stanzas;
        _macInput = macInput;
        _mac = mac;
    }

    /// <summary>The recipient stanzas, in file order.</summary>
    public IReadOnlyList<AgeStanza> Stanzas { get; }

    /// <summary>
    /// Parses a complete header from the start of <paramref name="data"/>: the header and the number of bytes it
    /// took, or null when <paramref name="data"/> ends before the MAC line does (read more and call again).
    /// </summary>
    /// <exception cref="InvalidDataException">The header is malformed or larger than <see cref="MaxSize"/>.</exception>
    public static (AgeHeader Header, int Length)? TryParse(ReadOnlySpan<byte> data)
    {
        if (!data.StartsWith(Magic))
        {
            return data.Length < Magic.Length && Magic.StartsWith(data) ? null : throw Malformed("not an age v1 file");
        }
        int position = Magic.Length;
        var stanzas = new List<AgeStanza>();
        while (true)
        {
            if (NextLine(data, position) is not { } line)
            {
                return data.Length >= MaxSize ? throw Malformed($"header larger than {MaxSize} bytes") : null;
            }
            ReadOnlySpan<byte> text = data.Slice(position, line - position);
            if (text.StartsWith(FooterPrefix))
            {
                byte[] mac = DecodeBase64(Encoding.ASCII.GetString(text[FooterPrefix.Length..]))
                    is { Length: MacSize } m ? m : throw Malformed("bad MAC line");
                if (stanzas.Count == 0)
                {
                    throw Malformed("no recipient stanzas");
                }
                // The MAC covers the header up to and including "---", not the space after it.
                byte[] macInput = data[..(position + 3)].ToArray();
                return (new AgeHeader(stanzas, macInput, mac), line + 1);
            }
            if (!text.StartsWith(StanzaPrefix))
            {
                throw Malformed("expected a stanza or the MAC line");
            }
            if (stanzas.Count == MaxStanzas)
            {
                throw Malformed($"more than {MaxStanzas} recipient stanzas");
            }
            string[] words = ParseArguments(text[StanzaPrefix.Length..]);
            position = line + 1;
            // The body: full 64-column lines, ended by the first shorter (possibly empty) line.
            var body = new StringBuilder();
            while (true)
            {
                if (NextLine(data, position) is not { } bodyEnd)
                {
                    return data.Length >= MaxSize ? throw Malformed($"header larger than {MaxSize} bytes") : null;
                }
                int length = bodyEnd - position;
                if (length > BodyColumns)
                {
                    throw Malformed("stanza body line longer than 64 columns");
                }
                body.Append(Encoding.ASCII.GetString(data.Slice(position, length)));
                position = bodyEnd + 1;
                if (length < BodyColumns)
                {
                    break;
                }
            }
            stanzas.Add(new AgeStanza(words[0], words[1..], DecodeBase64(body.ToString()) ?? throw Malformed("stanza body is not canonical base64")));
        }
    }

    /// <summary>
    /// The file key from the first stanza one of <paramref name="identities"/> unwraps, after checking the header MAC
    /// with it; null when no stanza is addressed to them (a wrong key).
    /// </summary>
    /// <exception cref="InvalidDataException">A stanza is malformed, or the MAC does not match.</exception>
    public byte[]? Unwrap(IReadOnlyList<AgeIdentity> identities)
    {
        foreach (AgeStanza stanza in Stanzas)
        {
            // Other recipient types (scrypt, ssh-ed25519, plugins, age's "grease") are not for an X25519 identity.
            if (stanza.Type != "X25519")
            {
                continue;
            }
            foreach (AgeIdentity identity in identities)
            {
                if (identity.Unwrap(stanza) is { } fileKey)
                {
                    CheckMac(fileKey);
                    return fileKey;
                }
            }
        }
        return null;
    }

    private void CheckMac(byte[] fileKey)
    {
        Span<byte> key = stackalloc byte[32];
        HKDF.DeriveKey(HashAlgorithmName.SHA256, fileKey, key, [], s_macInfo);
        Span<byte> mac = stackalloc byte[MacSize];
        HMACSHA256.HashData(key, _macInput, mac);
        CryptographicOperations.ZeroMemory(key);
        if (!CryptographicOperations.FixedTimeEquals(mac, _mac))
        {
            throw Malformed("header MAC mismatch (the header was modified)");
        }
    }

    /// <summary>Canonical unpadded standard base64 (age's only encoding), or null when <paramref name="text"/> is not.</summary>
    public static byte[]? DecodeBase64(string text)
    {
        if (text.Contains('=', StringComparison.Ordinal) || text.Length % 4 == 1)
        {
            return null;
        }
        string padded = (text.Length % 4) switch { 2 => text + "==", 3 => text + "=", _ => text };
        byte[] bytes;
        try
        {
            bytes = Convert.FromBase64String(padded);
        }
        catch (FormatException)
        {
            return null;
        }
        // Convert accepts whitespace and non-zero trailing bits; re-encoding must give the text back.
        return Convert.ToBase64String(bytes).TrimEnd('=') == text ? bytes : null;
    }

    // The index of the next '\n' at or after position, or null when there is none yet.
    private static int? NextLine(ReadOnlySpan<byte> data, int position)
    {
        int n = data[position..].IndexOf((byte)'\n');
        return n < 0 ? null : position + n;
    }

    private static string[] ParseArguments(ReadOnlySpan<byte> text)
    {
        // Arguments are non-empty runs of printable ASCII separated by single spaces.
        if (text.ContainsAnyExceptInRange((byte)32, (byte)126))
        {
            throw Malformed("malformed stanza argument line");
        }
        string[] words = Encoding.ASCII.GetString(text).Split(' ');
        if (words.Length > MaxArgs + 1)
        {
            throw Malformed("stanza has too many arguments");
        }
        return words.Any(static w => w.Length == 0) ? throw Malformed("malformed stanza argument line") : words;
    }

    private static InvalidDataException Malformed(string what) => new($"malformed age header: {what}");
}
