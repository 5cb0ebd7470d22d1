using System.Buffers.Binary;

namespace Litestream.Ltx.Wal;

/// <summary>The 24-byte header of a WAL frame (file format §4.2). Fields are big-endian on disk.</summary>
public readonly record struct WalFrameHeader
{
    /// <summary>Size in bytes.</summary>
    public const int Size = 24;

    /// <summary>Page number.</summary>
    public uint Pgno { get; init; }
    /// <summary>For a commit frame, the database size in pages after the commit; 0 otherwise.</summary>
    public uint Commit { get; init; }
    /// <summary>Salt-1 copied from the WAL header when the frame was written.</summary>
    public uint Salt1 { get; init; }
    /// <summary>Salt-2 copied from the WAL header when the frame was written.</summary>
    public uint Salt2 { get; init; }
    /// <summary>Cumulative checksum-1 through this frame.</summary>
    public uint Checksum1 { get; init; }
    /// <summary>Cumulative checksum-2 through this frame.</summary>
    public uint Checksum2 { get; init; }

    /// <summary>True when this frame ends a transaction.</summary>
    public bool IsCommit => Commit != 0;

    /// <summary>Reads 24 bytes; false if short.</summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out WalFrameHeader header)
    {
        header = default;
        if (source.Length < Size)
        {
            return false;
        }
        header = new WalFrameHeader
        {
            Pgno = BinaryPrimitives.ReadUInt32BigEndian(source),
            Commit = BinaryPrimitives.ReadUInt32BigEndian(source[4..]),
            Salt1 = BinaryPrimitives.ReadUInt32BigEndian(source[8..]),
            Salt2 = BinaryPrimitives.ReadUInt32BigEndian(source[12..]),
            Checksum1 = BinaryPrimitives.ReadUInt32BigEndian(source[16..]),
            Checksum2 = BinaryPrimitives.ReadUInt32BigEndian(source[20..]),
        };
        return true;
    }
}
