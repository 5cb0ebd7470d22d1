using System.Buffers.Binary;

namespace Litestream.Ltx.Checksums;

/// <summary>
/// SQLite's WAL checksum (file format §4.3): over 32-bit words read in the WAL's byte order
/// (magic 0x377f0682 little-endian, 0x377f0683 big-endian), <c>s0 += x[i] + s1; s1 += x[i+1] + s0</c>.
/// </summary>
public static class WalChecksum
{
    /// <summary>Continues the running checksum over <paramref name="data"/> (length a multiple of 8).</summary>
    public static (uint S0, uint S1) Compute(bool bigEndian, uint s0, uint s1, ReadOnlySpan<byte> data)
    {
        if ((data.Length & 7) != 0)
        {
            throw new ArgumentException($"wal checksum input must be a multiple of 8 bytes: {data.Length}", nameof(data));
        }
        if (bigEndian)
        {
            for (int i = 0; i < data.Length; i += 8)
            {
                s0 += BinaryPrimitives.ReadUInt32BigEndian(data[i..]) + s1;
                s1 += BinaryPrimitives.ReadUInt32BigEndian(data[(i + 4)..]) + s0;
            }
        }
        else
        {
            for (int i = 0; i < data.Length; i += 8)
            {
                s0 += BinaryPrimitives.ReadUInt32LittleEndian(data[i..]) + s1;
                s1 += BinaryPrimitives.ReadUInt32LittleEndian(data[(i + 4)..]) + s0;
            }
        }
        return (s0, s1);
    }
}
