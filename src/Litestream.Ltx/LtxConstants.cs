namespace Litestream.Ltx;

/// <summary>Sizes, flags and limits of the LTX v3 format (superfly/ltx <c>ltx.go</c>).</summary>
public static class LtxConstants
{
    /// <summary>Size of the file header in bytes.</summary>
    public const int HeaderSize = 100;

    /// <summary>Size of a page frame header (pgno u32 + flags u16) in bytes.</summary>
    public const int PageHeaderSize = 6;

    /// <summary>Size of the 4-byte big-endian compressed length that follows a page header with <see cref="PageHeaderFlagSize"/>.</summary>
    public const int PageSizePrefixSize = 4;

    /// <summary>Size of the trailer (post-apply checksum + file checksum) in bytes.</summary>
    public const int TrailerSize = 16;

    /// <summary>Size of the big-endian u64 that stores the page index length.</summary>
    public const int PageIndexSizeFieldSize = 8;

    /// <summary>Header flag: the file carries no database checksums (Litestream sets it on every file).</summary>
    public const uint HeaderFlagNoChecksum = 0x2;

    /// <summary>ltx v0.3 (format v1) header flag "the page block is one LZ4 frame"; invalid in v3.</summary>
    public const uint LegacyHeaderFlagCompressLz4 = 0x1;

    /// <summary>
    /// Header flag of this project's extension: page payloads are sealed with AES-256-GCM (docs/ENCRYPTION.md).
    /// Upstream readers accept only <see cref="HeaderFlagNoChecksum"/>, so they refuse such a file cleanly.
    /// </summary>
    public const uint HeaderFlagEncrypted = 0x4;

    /// <summary>All header flags a v3 file may carry.</summary>
    public const uint HeaderFlagMask = HeaderFlagNoChecksum | HeaderFlagEncrypted;

    /// <summary>Bytes an encrypted page payload adds: the AEAD tag.</summary>
    public const int PageTagSize = 16;

    /// <summary>Page header flag: payload is a 4-byte BE length and one LZ4 block (ltx ≥ v0.5.2).</summary>
    public const ushort PageHeaderFlagSize = 0x1;

    /// <summary>All page header flags a v3 file may carry.</summary>
    public const ushort PageHeaderFlagMask = PageHeaderFlagSize;

    /// <summary>Bit 63 marks a stored checksum as present; every non-zero checksum has it set.</summary>
    public const ulong ChecksumFlag = 1UL << 63;

    /// <summary>The replica level that holds full snapshots.</summary>
    public const int SnapshotLevel = 9;

    /// <summary>SQLite's PENDING_BYTE: the page containing it (the lock page) never holds data.</summary>
    public const long PendingByte = 0x40000000;

    /// <summary>Smallest valid page size.</summary>
    public const uint MinPageSize = 512;

    /// <summary>Largest valid page size.</summary>
    public const uint MaxPageSize = 65536;

    /// <summary>Page number of the lock page for a page size: PENDING_BYTE / pageSize + 1 (4096 → 262145).</summary>
    public static uint LockPgno(uint pageSize) => checked((uint)(PendingByte / pageSize) + 1);

    /// <summary>True for a power of two from 512 to 65536.</summary>
    public static bool IsValidPageSize(uint pageSize)
        => pageSize >= MinPageSize && pageSize <= MaxPageSize && (pageSize & (pageSize - 1)) == 0;
}
