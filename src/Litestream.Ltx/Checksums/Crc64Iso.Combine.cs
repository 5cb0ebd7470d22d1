namespace Litestream.Ltx.Checksums;

public static partial class Crc64Iso
{
    /// <summary>
    /// The CRC of the concatenation A‖B from <c>Compute(A)</c>, <c>Compute(B)</c> and B's length, without the
    /// bytes (zlib's <c>crc32_combine</c> for this polynomial): crc(A‖B) = crc(A)·x^(8·|B|) mod P ⊕ crc(B).
    /// Lets independent parts of one file be checksummed in parallel and the file checksum be checked at
    /// the end. Costs O(log |B|) polynomial multiplications.
    /// </summary>
    public static ulong Combine(ulong first, ulong second, long secondLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(secondLength);
        return secondLength == 0 ? first : MultiplyModP(XPow8N(secondLength), first) ^ second;
    }

    // Polynomials are in reflected bit order: the top bit is x^0, bit 62 is x^1.
    private const ulong One = 1UL << 63;

    /// <summary>x^(2^k) mod P for k = 0..63 (x^(2^k) for larger k repeats with the multiplicative order; 64 covers any long).</summary>
    private static readonly ulong[] PowersOfTwo = BuildPowersOfTwo();

    private static ulong[] BuildPowersOfTwo()
    {
        var table = new ulong[64];
        ulong p = One >> 1; // x^1
        for (int k = 0; k < table.Length; k++)
        {
            table[k] = p;
            p = MultiplyModP(p, p);
        }
        return table;
    }

    /// <summary>a·b mod P, reflected.</summary>
    private static ulong MultiplyModP(ulong a, ulong b)
    {
        ulong product = 0;
        for (ulong m = One; m != 0; m >>= 1)
        {
            if ((a & m) != 0)
            {
                product ^= b;
                if ((a & (m - 1)) == 0)
                {
                    break;
                }
            }
            b = (b & 1) != 0 ? (b >> 1) ^ ReflectedPolynomial : b >> 1;
        }
        return product;
    }

    /// <summary>x^(8·n) mod P: the shift that appending n bytes applies to a CRC.</summary>
    private static ulong XPow8N(long n)
    {
        ulong p = One;
        int k = 3; // 8·n = n·2^3
        for (ulong bits = (ulong)n; bits != 0; bits >>= 1, k++)
        {
            if ((bits & 1) != 0)
            {
                p = MultiplyModP(PowersOfTwo[k], p);
            }
        }
        return p;
    }
}
