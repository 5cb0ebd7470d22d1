using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Math.EC.Rfc8032;

namespace Litestream.Storage.Nats;

/// <summary>
/// A NATS user nkey seed (<c>SU…</c>, the nkeys encoding: base32 of two prefix bytes, the 32-byte Ed25519 seed and a
/// CRC-16/XMODEM, little-endian): its public key (<c>U…</c>) and nonce signatures. Ed25519 comes from BouncyCastle,
/// which SSH.NET already links in (NATS.NKeys, its own Ed25519, cost 0.2 MB of the binary).
/// </summary>
internal sealed class NatsUserSeed
{
    /// <summary>nkeys' prefix byte of a seed (S) and of a user key (U).</summary>
    private const byte SeedPrefix = 18 << 3;
    private const byte UserPrefix = 20 << 3;
    private const string Base32Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

    private readonly Ed25519PrivateKeyParameters _key;

    private NatsUserSeed(Ed25519PrivateKeyParameters key) => _key = key;

    /// <summary>Decodes a user seed.</summary>
    /// <exception cref="FormatException">Not a user seed (alphabet, length, prefix or checksum).</exception>
    public static NatsUserSeed Parse(string seed)
    {
        byte[] raw = Base32Decode(seed.Trim());
        if (raw.Length != 36 || Crc16(raw.AsSpan(0, 34)) != (ushort)(raw[34] | raw[35] << 8))
        {
            throw new FormatException("not an nkey seed (length or checksum)");
        }
        if ((raw[0] & 0xF8) != SeedPrefix || ((raw[0] & 7) << 5 | (raw[1] & 0xF8) >> 3) != UserPrefix)
        {
            throw new FormatException("not a user seed (SU…)");
        }
        return new NatsUserSeed(new Ed25519PrivateKeyParameters(raw.AsSpan(2, 32)));
    }

    /// <summary>The user's public key, <c>U…</c>.</summary>
    public string PublicKey()
    {
        byte[] raw = new byte[35];
        raw[0] = UserPrefix;
        _key.GeneratePublicKey().Encode(raw.AsSpan(1, 32));
        ushort crc = Crc16(raw.AsSpan(0, 33));
        raw[33] = (byte)crc;
        raw[34] = (byte)(crc >> 8);
        return Base32Encode(raw);
    }

    /// <summary>The Ed25519 signature of <paramref name="message"/>.</summary>
    public byte[] Sign(byte[] message)
    {
        byte[] signature = new byte[Ed25519.SignatureSize];
        _key.Sign(Ed25519.Algorithm.Ed25519, null, message, 0, message.Length, signature, 0);
        return signature;
    }

    private static ushort Crc16(ReadOnlySpan<byte> data)
    {
        int crc = 0;
        foreach (byte b in data)
        {
            crc ^= b << 8;
            for (int i = 0; i < 8; i++)
            {
                crc = (crc & 0x8000) != 0 ? (crc << 1) ^ 0x1021 : crc << 1;
            }
        }
        return (ushort)crc;
    }

    private static byte[] Base32Decode(string text)
    {
        var bytes = new List<byte>(text.Length * 5 / 8);
        int buffer = 0, bits = 0;
        foreach (char c in text)
        {
            int value = Base32Alphabet.IndexOf(c, StringComparison.Ordinal);
            if (value < 0)
            {
                throw new FormatException("not an nkey seed (not base32)");
            }
            buffer = (buffer << 5) | value;
            bits += 5;
            if (bits >= 8)
            {
                bits -= 8;
                bytes.Add((byte)(buffer >> bits));
                buffer &= (1 << bits) - 1;
            }
        }
        return [.. bytes];
    }

    private static string Base32Encode(ReadOnlySpan<byte> data)
    {
        var text = new System.Text.StringBuilder((data.Length * 8 + 4) / 5);
        int buffer = 0, bits = 0;
        foreach (byte b in data)
        {
            buffer = (buffer << 8) | b;
            bits += 8;
            while (bits >= 5)
            {
                bits -= 5;
                text.Append(Base32Alphabet[(buffer >> bits) & 31]);
            }
            buffer &= (1 << bits) - 1;
        }
        if (bits > 0)
        {
            text.Append(Base32Alphabet[(buffer << (5 - bits)) & 31]);
        }
        return text.ToString();
    }
}
