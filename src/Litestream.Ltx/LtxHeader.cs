using System.Buffers.Binary;

namespace Litestream.Ltx;

/// <summary>The 100-byte LTX file header (LTX.md §2). All integers big-endian.</summary>
public readonly record struct LtxHeader
{
    /// <summary>Size in bytes.</summary>
    public const int Size = LtxConstants.HeaderSize;

    /// <summary>Header flags; only <see cref="LtxConstants.HeaderFlagNoChecksum"/> is valid.</summary>
    public uint Flags { get; init; }
    /// <summary>Database page size in bytes (512..65536, power of two).</summary>
    public uint PageSize { get; init; }
    /// <summary>Database size in pages after applying this file; 0 for an empty database.</summary>
    public uint Commit { get; init; }
    /// <summary>First transaction covered.</summary>
    public Txid MinTxid { get; init; }
    /// <summary>Last transaction covered.</summary>
    public Txid MaxTxid { get; init; }
    /// <summary>Creation time of the data, milliseconds since the Unix epoch.</summary>
    public long Timestamp { get; init; }
    /// <summary>Database checksum before applying; 0 on snapshots and with NoChecksum.</summary>
    public ulong PreApplyChecksum { get; init; }
    /// <summary>Byte offset in the source WAL where this file's frames start; 0 if not from a WAL.</summary>
    public long WalOffset { get; init; }
    /// <summary>Number of WAL bytes this file consumed; 0 if not from a WAL.</summary>
    public long WalSize { get; init; }
    /// <summary>Salt-1 of the source WAL header.</summary>
    public uint WalSalt1 { get; init; }
    /// <summary>Salt-2 of the source WAL header.</summary>
    public uint WalSalt2 { get; init; }
    /// <summary>Creator node id: the replica lease's generation for Litestream.Aot (<see cref="LtxNodeId"/>), else 0.</summary>
    public ulong NodeId { get; init; }
    /// <summary>An encrypted file's random salt, from which its page key is derived (docs/ENCRYPTION.md); 0 in plain files.</summary>
    public UInt128 Salt { get; init; }
    /// <summary>An encrypted file's key id (<see cref="LtxPageCipher.KeyId"/>); 0 in plain files.</summary>
    public uint KeyId { get; init; }

    /// <summary>A snapshot covers the database from its first transaction (MinTxid 1) and holds every page.</summary>
    public bool IsSnapshot => MinTxid.Value == 1;

    /// <summary>True when the page payloads are encrypted (<see cref="LtxConstants.HeaderFlagEncrypted"/>).</summary>
    public bool IsEncrypted => (Flags & LtxConstants.HeaderFlagEncrypted) != 0;

    /// <summary>True when the NoChecksum flag is set.</summary>
    public bool NoChecksum => (Flags & LtxConstants.HeaderFlagNoChecksum) != 0;

    /// <summary>The header timestamp as a UTC time (clamped to the representable range: the field is untrusted input).</summary>
    public DateTimeOffset CreatedAt => TimestampToTime(Timestamp);

    /// <summary>Converts a Unix-millisecond timestamp, clamping values outside what <see cref="DateTimeOffset"/> can hold.</summary>
    public static DateTimeOffset TimestampToTime(long milliseconds)
        => DateTimeOffset.FromUnixTimeMilliseconds(Math.Clamp(milliseconds, s_minUnixMs, s_maxUnixMs));

    private static readonly long s_minUnixMs = DateTimeOffset.MinValue.ToUnixTimeMilliseconds();
    private static readonly long s_maxUnixMs = DateTimeOffset.MaxValue.ToUnixTimeMilliseconds();

    /// <summary>Reads a header; false when the span is short or the magic is not "LTX1". Does not validate.</summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out LtxHeader header)
    {
        header = default;
        if (source.Length < Size || !source[..4].SequenceEqual(LtxLayout.MagicBytes))
        {
            return false;
        }
        header = new LtxHeader
        {
            Flags = BinaryPrimitives.ReadUInt32BigEndian(source[LtxLayout.Flags..]),
            PageSize = BinaryPrimitives.ReadUInt32BigEndian(source[LtxLayout.PageSize..]),
            Commit = BinaryPrimitives.ReadUInt32BigEndian(source[LtxLayout.Commit..]),
            MinTxid = new Txid(BinaryPrimitives.ReadUInt64BigEndian(source[LtxLayout.MinTxid..])),
            MaxTxid = new Txid(BinaryPrimitives.ReadUInt64BigEndian(source[LtxLayout.MaxTxid..])),
            Timestamp = BinaryPrimitives.ReadInt64BigEndian(source[LtxLayout.Timestamp..]),
            PreApplyChecksum = BinaryPrimitives.ReadUInt64BigEndian(source[LtxLayout.PreApplyChecksum..]),
            WalOffset = BinaryPrimitives.ReadInt64BigEndian(source[LtxLayout.WalOffset..]),
            WalSize = BinaryPrimitives.ReadInt64BigEndian(source[LtxLayout.WalSize..]),
            WalSalt1 = BinaryPrimitives.ReadUInt32BigEndian(source[LtxLayout.WalSalt1..]),
            WalSalt2 = BinaryPrimitives.ReadUInt32BigEndian(source[LtxLayout.WalSalt2..]),
            NodeId = BinaryPrimitives.ReadUInt64BigEndian(source[LtxLayout.NodeId..]),
            Salt = BinaryPrimitives.ReadUInt128BigEndian(source[LtxLayout.Salt..]),
            KeyId = BinaryPrimitives.ReadUInt32BigEndian(source[LtxLayout.KeyId..]),
        };
        return true;
    }

    /// <summary>Reads a header or throws <see cref="LtxFormatException"/>. Does not validate.</summary>
    public static LtxHeader Read(ReadOnlySpan<byte> source)
    {
        if (source.Length < Size)
        {
            LtxThrow.Format($"short ltx header: {source.Length} bytes, need {Size}");
        }
        return TryRead(source, out LtxHeader header) ? header : LtxThrow.Format<LtxHeader>("invalid ltx file: bad magic");
    }

    /// <summary>Writes the 100 header bytes (the reserved bytes hold salt and key id: zeros in a plain file).</summary>
    public void Write(Span<byte> destination)
    {
        if (destination.Length < Size)
        {
            throw new ArgumentException($"destination too small for ltx header: {destination.Length}", nameof(destination));
        }
        LtxLayout.MagicBytes.CopyTo(destination);
        BinaryPrimitives.WriteUInt32BigEndian(destination[LtxLayout.Flags..], Flags);
        BinaryPrimitives.WriteUInt32BigEndian(destination[LtxLayout.PageSize..], PageSize);
        BinaryPrimitives.WriteUInt32BigEndian(destination[LtxLayout.Commit..], Commit);
        BinaryPrimitives.WriteUInt64BigEndian(destination[LtxLayout.MinTxid..], MinTxid.Value);
        BinaryPrimitives.WriteUInt64BigEndian(destination[LtxLayout.MaxTxid..], MaxTxid.Value);
        BinaryPrimitives.WriteInt64BigEndian(destination[LtxLayout.Timestamp..], Timestamp);
        BinaryPrimitives.WriteUInt64BigEndian(destination[LtxLayout.PreApplyChecksum..], PreApplyChecksum);
        BinaryPrimitives.WriteInt64BigEndian(destination[LtxLayout.WalOffset..], WalOffset);
        BinaryPrimitives.WriteInt64BigEndian(destination[LtxLayout.WalSize..], WalSize);
        BinaryPrimitives.WriteUInt32BigEndian(destination[LtxLayout.WalSalt1..], WalSalt1);
        BinaryPrimitives.WriteUInt32BigEndian(destination[LtxLayout.WalSalt2..], WalSalt2);
        BinaryPrimitives.WriteUInt64BigEndian(destination[LtxLayout.NodeId..], NodeId);
        BinaryPrimitives.WriteUInt128BigEndian(destination[LtxLayout.Salt..], Salt);
        BinaryPrimitives.WriteUInt32BigEndian(destination[LtxLayout.KeyId..], KeyId);
    }

    /// <summary>Checks the header rules in upstream's order (ltx <c>Header.Validate</c>); throws <see cref="LtxFormatException"/>.</summary>
    public void Validate()
    {
        if ((Flags & ~LtxConstants.HeaderFlagMask) != 0)
        {
            // Bit 0 was ltx v0.3's CompressLZ4 flag: name the real cause for such a file.
            LtxThrow.Format((Flags & LtxConstants.LegacyHeaderFlagCompressLz4) != 0
                ? $"invalid flags: 0x{Flags:x8} (0x1 is the ltx v1 compression flag; ltx v1 files are not supported)"
                : $"invalid flags: 0x{Flags:x8}");
        }
        if (IsEncrypted && (Salt == 0 || KeyId == 0))
        {
            LtxThrow.Format("encrypted file without salt or key id");
        }
        if (!LtxConstants.IsValidPageSize(PageSize))
        {
            LtxThrow.Format($"invalid page size: {PageSize}");
        }
        if (MinTxid.IsZero)
        {
            LtxThrow.Format("minimum transaction id required");
        }
        if (MaxTxid.IsZero)
        {
            LtxThrow.Format("maximum transaction id required");
        }
        if (MinTxid > MaxTxid)
        {
            LtxThrow.Format($"transaction ids out of order: ({MinTxid.Value},{MaxTxid.Value})");
        }
        if (WalOffset < 0)
        {
            LtxThrow.Format($"wal offset cannot be negative: {WalOffset}");
        }
        if (WalSize < 0)
        {
            LtxThrow.Format($"wal size cannot be negative: {WalSize}");
        }
        if ((WalSalt1 != 0 || WalSalt2 != 0) && WalOffset == 0)
        {
            LtxThrow.Format("wal offset required if salt exists");
        }
        if (WalOffset == 0 && WalSize != 0)
        {
            LtxThrow.Format("wal offset required if wal size exists");
        }
        if (IsSnapshot)
        {
            if (PreApplyChecksum != 0)
            {
                LtxThrow.Format("pre-apply checksum must be zero on snapshots");
            }
        }
        else if (NoChecksum)
        {
            if (PreApplyChecksum != 0)
            {
                LtxThrow.Format("pre-apply checksum not allowed");
            }
        }
        else if (PreApplyChecksum == 0)
        {
            LtxThrow.Format("pre-apply checksum required on non-snapshot files");
        }
        else if ((PreApplyChecksum & LtxConstants.ChecksumFlag) == 0)
        {
            LtxThrow.Format("invalid pre-apply checksum format");
        }
    }
}
