using System.Buffers.Binary;

namespace Litestream.Ltx.Wal;

/// <summary>The 32-byte SQLite WAL header (SQLite file format §4.1). Fields are big-endian on disk.</summary>
public readonly record struct WalHeader
{
    /// <summary>Size in bytes.</summary>
    public const int Size = 32;
    /// <summary>Magic for little-endian checksums.</summary>
    public const uint MagicLittleEndian = 0x377f0682;
    /// <summary>Magic for big-endian checksums.</summary>
    public const uint MagicBigEndian = 0x377f0683;
    /// <summary>The only WAL format version SQLite writes.</summary>
    public const uint SupportedVersion = 3007000;

    // Field offsets, each from the previous one.
    internal const int MagicOffset = 0;
    internal const int VersionOffset = MagicOffset + 4;
    internal const int PageSizeOffset = VersionOffset + 4;
    internal const int CheckpointSeqOffset = PageSizeOffset + 4;
    internal const int Salt1Offset = CheckpointSeqOffset + 4;
    internal const int Salt2Offset = Salt1Offset + 4;
    /// <summary>The header checksum covers the bytes before this offset.</summary>
    internal const int ChecksumOffset = Salt2Offset + 4;
    internal const int Checksum2Offset = ChecksumOffset + 4;

    /// <summary>Magic number; selects the checksum byte order.</summary>
    public uint Magic { get; init; }
    /// <summary>File format version (3007000).</summary>
    public uint Version { get; init; }
    /// <summary>Database page size in bytes.</summary>
    public uint PageSize { get; init; }
    /// <summary>Checkpoint sequence number.</summary>
    public uint CheckpointSeq { get; init; }
    /// <summary>Salt-1: incremented on every WAL reset.</summary>
    public uint Salt1 { get; init; }
    /// <summary>Salt-2: random on every WAL reset.</summary>
    public uint Salt2 { get; init; }
    /// <summary>Checksum-1 of the first 24 header bytes.</summary>
    public uint Checksum1 { get; init; }
    /// <summary>Checksum-2 of the first 24 header bytes.</summary>
    public uint Checksum2 { get; init; }

    /// <summary>True when checksums read words big-endian (magic 0x377f0683).</summary>
    public bool BigEndianChecksum => Magic == MagicBigEndian;

    /// <summary>Reads the header fields; false if the span is short. Does not validate.</summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out WalHeader header)
    {
        header = default;
        if (source.Length < Size)
        {
            return false;
        }
        header = new WalHeader
        {
            Magic = BinaryPrimitives.ReadUInt32BigEndian(source[MagicOffset..]),
            Version = BinaryPrimitives.ReadUInt32BigEndian(source[VersionOffset..]),
            PageSize = BinaryPrimitives.ReadUInt32BigEndian(source[PageSizeOffset..]),
            CheckpointSeq = BinaryPrimitives.ReadUInt32BigEndian(source[CheckpointSeqOffset..]),
            Salt1 = BinaryPrimitives.ReadUInt32BigEndian(source[Salt1Offset..]),
            Salt2 = BinaryPrimitives.ReadUInt32BigEndian(source[Salt2Offset..]),
            Checksum1 = BinaryPrimitives.ReadUInt32BigEndian(source[ChecksumOffset..]),
            Checksum2 = BinaryPrimitives.ReadUInt32BigEndian(source[Checksum2Offset..]),
        };
        return true;
    }

    /// <summary>Writes the 32 bytes as stored (the checksum fields as given, not recomputed).</summary>
    public void Write(Span<byte> destination)
    {
        if (destination.Length < Size)
        {
            throw new ArgumentException($"destination too small for wal header: {destination.Length}", nameof(destination));
        }
        BinaryPrimitives.WriteUInt32BigEndian(destination[MagicOffset..], Magic);
        BinaryPrimitives.WriteUInt32BigEndian(destination[VersionOffset..], Version);
        BinaryPrimitives.WriteUInt32BigEndian(destination[PageSizeOffset..], PageSize);
        BinaryPrimitives.WriteUInt32BigEndian(destination[CheckpointSeqOffset..], CheckpointSeq);
        BinaryPrimitives.WriteUInt32BigEndian(destination[Salt1Offset..], Salt1);
        BinaryPrimitives.WriteUInt32BigEndian(destination[Salt2Offset..], Salt2);
        BinaryPrimitives.WriteUInt32BigEndian(destination[ChecksumOffset..], Checksum1);
        BinaryPrimitives.WriteUInt32BigEndian(destination[Checksum2Offset..], Checksum2);
    }
}
