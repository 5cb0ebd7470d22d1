namespace Litestream.Ltx;

/// <summary>Byte offsets of every field in the LTX header, page header and trailer (LTX.md §2, §3, §6).</summary>
internal static class LtxLayout
{
    // Header (100 bytes), each offset defined from the previous one.
    public const int Magic = 0;
    public const int Flags = Magic + 4;
    public const int PageSize = Flags + 4;
    public const int Commit = PageSize + 4;
    public const int MinTxid = Commit + 4;
    public const int MaxTxid = MinTxid + 8;
    public const int Timestamp = MaxTxid + 8;
    public const int PreApplyChecksum = Timestamp + 8;
    public const int WalOffset = PreApplyChecksum + 8;
    public const int WalSize = WalOffset + 8;
    public const int WalSalt1 = WalSize + 8;
    public const int WalSalt2 = WalSalt1 + 4;
    public const int NodeId = WalSalt2 + 4;
    public const int Reserved = NodeId + 8;
    // The reserved bytes of an encrypted file (HeaderFlagEncrypted): its salt and its key id.
    public const int Salt = Reserved;
    public const int KeyId = Salt + 16;

    // Page header (6 bytes).
    public const int PagePgno = 0;
    public const int PageFlags = PagePgno + 4;

    // Trailer (16 bytes).
    public const int PostApplyChecksum = 0;
    public const int FileChecksum = PostApplyChecksum + 8;

    /// <summary>The magic bytes "LTX1" that start every LTX file (all versions).</summary>
    public static ReadOnlySpan<byte> MagicBytes => "LTX1"u8;
}
