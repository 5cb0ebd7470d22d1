using System.Buffers.Binary;

namespace Litestream.Ltx.Checksums;

public static partial class Crc64Iso
{
    /// <summary>
    /// Slicing-by-8 over the raw (already inverted) register: eight 256-entry tables, table k holding
    /// the CRC of a byte followed by k zero bytes. Built on first use (16 KiB, microseconds).
    /// </summary>
    internal static ulong UpdateTable(ulong state, ReadOnlySpan<byte> data)
    {
        ReadOnlySpan<ulong> t = Table.Slices;
        while (data.Length >= 8)
        {
            ulong v = state ^ BinaryPrimitives.ReadUInt64LittleEndian(data);
            state = t[(7 * 256) + (int)(v & 0xFF)]
                ^ t[(6 * 256) + (int)((v >> 8) & 0xFF)]
                ^ t[(5 * 256) + (int)((v >> 16) & 0xFF)]
                ^ t[(4 * 256) + (int)((v >> 24) & 0xFF)]
                ^ t[(3 * 256) + (int)((v >> 32) & 0xFF)]
                ^ t[(2 * 256) + (int)((v >> 40) & 0xFF)]
                ^ t[256 + (int)((v >> 48) & 0xFF)]
                ^ t[(int)(v >> 56)];
            data = data[8..];
        }
        foreach (byte b in data)
        {
            state = t[(int)((byte)state ^ b)] ^ (state >> 8);
        }
        return state;
    }

    internal static class Table
    {
        public static readonly ulong[] Slices = Build();

        private static ulong[] Build()
        {
            var t = new ulong[8 * 256];
            for (uint i = 0; i < 256; i++)
            {
                ulong crc = i;
                for (int bit = 0; bit < 8; bit++)
                {
                    crc = (crc & 1) != 0 ? (crc >> 1) ^ ReflectedPolynomial : crc >> 1;
                }
                t[i] = crc;
            }
            for (int k = 1; k < 8; k++)
            {
                for (int i = 0; i < 256; i++)
                {
                    ulong prev = t[((k - 1) * 256) + i];
                    t[(k * 256) + i] = t[(int)(prev & 0xFF)] ^ (prev >> 8);
                }
            }
            return t;
        }
    }
}
