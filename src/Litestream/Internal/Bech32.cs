namespace Litestream.Internal;

/// <summary>
/// Bech32 (BIP 173) decoding, as age encodes its keys (<c>AGE-SECRET-KEY-1…</c>, <c>age1…</c>): without BIP 173's
/// 90-character limit, which age drops, and with the classic checksum constant 1 (not Bech32m).
/// </summary>
internal static class Bech32
{
    private const string Charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

    // Far above any age key (a 32-byte key is 59 + HRP characters); keeps a hostile string bounded.
    private const int MaxLength = 1024;

    /// <summary>
    /// Splits <paramref name="text"/> into its human-readable part (lower-cased) and data bytes, or returns false when
    /// it is not valid Bech32: mixed case, a character outside the charset, a bad checksum, or non-zero padding bits.
    /// </summary>
    public static bool TryDecode(string text, out string hrp, out byte[] data)
    {
        hrp = "";
        data = [];
        if (text.Length is < 8 or > MaxLength)
        {
            return false;
        }
        bool hasLower = false, hasUpper = false;
        foreach (char c in text)
        {
            if (c is < (char)33 or > (char)126)
            {
                return false;
            }
            hasLower |= c is >= 'a' and <= 'z';
            hasUpper |= c is >= 'A' and <= 'Z';
        }
        if (hasLower && hasUpper)
        {
            return false;
        }
        string lower = text.ToLowerInvariant();
        int separator = lower.LastIndexOf('1');
        // At least one HRP character and the six checksum characters.
        if (separator < 1 || separator + 7 > lower.Length)
        {
            return false;
        }
        var values = new byte[lower.Length - separator - 1];
        for (int i = 0; i < values.Length; i++)
        {
            int v = Charset.IndexOf(lower[separator + 1 + i], StringComparison.Ordinal);
            if (v < 0)
            {
                return false;
            }
            values[i] = (byte)v;
        }
        hrp = lower[..separator];
        if (Polymod(hrp, values) != 1)
        {
            return false;
        }
        return TryConvertBits(values.AsSpan(0, values.Length - 6), out data);
    }

    private static uint Polymod(string hrp, ReadOnlySpan<byte> values)
    {
        uint chk = 1;
        foreach (char c in hrp)
        {
            chk = Step(chk) ^ (uint)(c >> 5);
        }
        chk = Step(chk);
        foreach (char c in hrp)
        {
            chk = Step(chk) ^ (uint)(c & 31);
        }
        foreach (byte v in values)
        {
            chk = Step(chk) ^ v;
        }
        return chk;
    }

    private static uint Step(uint chk)
    {
        uint top = chk >> 25;
        chk = (chk & 0x1ffffff) << 5;
        if ((top & 1) != 0) { chk ^= 0x3b6a57b2; }
        if ((top & 2) != 0) { chk ^= 0x26508e6d; }
        if ((top & 4) != 0) { chk ^= 0x1ea119fa; }
        if ((top & 8) != 0) { chk ^= 0x3d4233dd; }
        if ((top & 16) != 0) { chk ^= 0x2a1462b3; }
        return chk;
    }

    // 5-bit groups to bytes; what is left over must be fewer than 5 zero bits (BIP 173's strict rule).
    private static bool TryConvertBits(ReadOnlySpan<byte> values, out byte[] data)
    {
        data = new byte[values.Length * 5 / 8];
        int acc = 0, bits = 0, n = 0;
        foreach (byte v in values)
        {
            acc = (acc << 5) | v;
            bits += 5;
            if (bits >= 8)
            {
                bits -= 8;
                data[n++] = (byte)(acc >> bits);
            }
            acc &= (1 << bits) - 1;
        }
        return bits < 5 && acc == 0;
    }
}
