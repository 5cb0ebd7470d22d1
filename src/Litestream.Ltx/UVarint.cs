namespace Litestream.Ltx;

/// <summary>Go <c>binary.AppendUvarint</c>/<c>Uvarint</c>: 7 bits per byte, low group first.</summary>
internal static class UVarint
{
    public const int MaxLength = 10;

    public static int Length(ulong value)
    {
        int n = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            n++;
        }
        return n;
    }

    public static int Write(Span<byte> destination, ulong value)
    {
        int i = 0;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }
        destination[i++] = (byte)value;
        return i;
    }

    public static bool TryRead(ReadOnlySpan<byte> source, out ulong value, out int bytesRead)
    {
        value = 0;
        int shift = 0;
        for (int i = 0; i < source.Length && i < MaxLength; i++)
        {
            byte b = source[i];
            if (i == MaxLength - 1 && b > 1)
            {
                break; // overflows 64 bits
            }
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                bytesRead = i + 1;
                return true;
            }
            shift += 7;
        }
        bytesRead = 0;
        return false;
    }
}
