using Litestream.Ltx.Checksums;

namespace Litestream.Ltx.Tests;

/// <summary>
/// Differential checks of the CRC-64/ISO fast paths against the byte-at-a-time oracle. Shared by the xunit
/// tests and the Arm64 check program (Arm64Check/), which runs them under qemu-aarch64 on the PMULL path.
/// Each returns null when everything agrees, else the first disagreement.
/// </summary>
internal static class Crc64Differential
{
    /// <summary>Dispatched <c>Crc64Iso.Compute</c> vs the oracle: lengths 0..199 then random up to 65 536, random unaligned starts, chained updates.</summary>
    public static string? DispatchedVersusOracle(int seed, int cases)
    {
        var random = new Random(seed);
        byte[] data = new byte[65536 + 64];
        random.NextBytes(data);
        for (int i = 0; i < cases; i++)
        {
            int start = random.Next(0, 64);
            int length = i < 200 ? i : random.Next(0, 65537);
            ReadOnlySpan<byte> slice = data.AsSpan(start, length);
            ulong expected = Crc64Iso.UpdateScalar(0, slice), actual = Crc64Iso.Compute(slice);
            if (expected != actual)
            {
                return $"compute start {start} length {length}: oracle {expected:x16}, got {actual:x16}";
            }
            // Streaming split at a random point must equal one call.
            int cut = random.Next(0, length + 1);
            ulong chained = Crc64Iso.Update(Crc64Iso.Compute(slice[..cut]), slice[cut..]);
            if (chained != expected)
            {
                return $"update start {start} length {length} cut {cut}: oracle {expected:x16}, got {chained:x16}";
            }
        }
        return null;
    }

    /// <summary>The folding kernel alone vs the table path from random raw states over whole 16-byte blocks.</summary>
    public static string? FoldVersusTable(int seed, int cases)
    {
        var random = new Random(seed);
        byte[] data = new byte[65536 + 32];
        random.NextBytes(data);
        for (int i = 0; i < cases; i++)
        {
            int start = random.Next(0, 32);
            int blocks = 1 + random.Next(0, 4096);
            ulong state = (ulong)random.NextInt64() ^ ((ulong)random.Next() << 40);
            ReadOnlySpan<byte> slice = data.AsSpan(start, blocks * 16);
            ulong expected = Crc64Iso.UpdateTable(state, slice), actual = Crc64Iso.Vectorized.Fold(state, slice);
            if (expected != actual)
            {
                return $"fold start {start} blocks {blocks} state {state:x16}: table {expected:x16}, got {actual:x16}";
            }
        }
        return null;
    }
}
