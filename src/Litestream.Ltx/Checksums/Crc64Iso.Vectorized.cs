namespace Litestream.Ltx.Checksums;

public static partial class Crc64Iso
{
    /// <summary>Carry-less multiply folding kernel; filled in by the PCLMULQDQ implementation.</summary>
    internal static class Vectorized
    {
        public const int BlockSize = 16;
        public const int MinLength = 128;
        public static bool IsSupported => false;

        public static ulong Fold(ulong state, ReadOnlySpan<byte> data) => UpdateTable(state, data);
    }
}
