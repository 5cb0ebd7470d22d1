namespace Litestream.Ltx.Checksums;

/// <summary>
/// CRC-64/GO-ISO, the checksum every LTX checksum is built on (Go <c>hash/crc64</c> with
/// <c>crc64.ISO</c>): poly 0x1B (reflected 0xD800000000000000), init and xorout all ones, reflected in
/// and out. Check value of "123456789" is 0xB90956C775A41001. This is NOT
/// <c>System.IO.Hashing.Crc64</c>, which is CRC-64/ECMA-182.
/// </summary>
public static partial class Crc64Iso
{
    /// <summary>The reflected polynomial (Go <c>crc64.ISO</c>).</summary>
    public const ulong ReflectedPolynomial = 0xD800000000000000;

    /// <summary>
    /// The carry-less multiply kernel <see cref="Update"/> folds with in this process: "pclmulqdq" (x64),
    /// "pmull" (arm64 with the crypto extension) or "none" (the slicing-by-8 table, ~10x slower). Under
    /// NativeAOT this is fixed when the binary is compiled: an instruction set outside the compile-time
    /// baseline reads as unsupported.
    /// </summary>
    public static string Kernel => Vectorized.Kernel;

    /// <summary>CRC of <paramref name="data"/> from the empty state.</summary>
    public static ulong Compute(ReadOnlySpan<byte> data) => Update(0, data);

    /// <summary>
    /// Continues a CRC (Go <c>crc64.Update</c>): <paramref name="crc"/> is a previous result (0 to start),
    /// so streaming over chunks equals one call over their concatenation.
    /// </summary>
    public static ulong Update(ulong crc, ReadOnlySpan<byte> data)
    {
        ulong state = ~crc;
        if (Vectorized.IsSupported && data.Length >= Vectorized.MinLength)
        {
            int folded = data.Length & ~(Vectorized.BlockSize - 1);
            state = Vectorized.Fold(state, data[..folded]);
            data = data[folded..];
        }
        return ~UpdateTable(state, data);
    }

    /// <summary>The scalar byte-at-a-time oracle the faster paths are tested against (operates on the raw register).</summary>
    internal static ulong UpdateScalar(ulong crc, ReadOnlySpan<byte> data)
    {
        ulong state = ~crc;
        ReadOnlySpan<ulong> table = Table.Slices.AsSpan(0, 256);
        foreach (byte b in data)
        {
            state = table[(int)((byte)state ^ b)] ^ (state >> 8);
        }
        return ~state;
    }
}
