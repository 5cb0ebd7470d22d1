using System.Buffers.Binary;

namespace Litestream.Ltx.Wal;

/// <summary>The 32-byte SQLite WAL header (file format §4.1). Fields are big-endian on disk.</summary>
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

    /// <summary>Magic number; selects the checksum byte order.</summary>
    public uint Magic { get; init; }
    /// <summary>File format version (3007000).</summary>
    public uint Version { get; init; }
    /// <summary>Database page size.</summary>
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

    /// <summary>True when checksums read words big-endian.</summary>
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
            Magic = BinaryPrimitives.ReadUInt32BigEndian(source),
            Version = BinaryPrimitives.ReadUInt32BigEndian(source[4..]),
            PageSize = BinaryPrimitives.ReadUInt32BigEndian(source[8..]),
            CheckpointSeq = BinaryPrimitives.ReadUInt32BigEndian(source[12..]),
            Salt1 = BinaryPrimitives.ReadUInt32BigEndian(source[16..]),
            Salt2 = BinaryPrimitives.ReadUInt32BigEndian(source[20..]),
            Checksum1 = BinaryPrimitives.ReadUInt32BigEndian(source[24..]),
            Checksum2 = BinaryPrimitives.ReadUInt32BigEndian(source[28..]),
        };
        return true;
    }
}
