using System.Buffers.Binary;

namespace Litestream.Ltx.Wal;

/// <summary>The 24-byte header of a WAL frame (SQLite file format §4.2). Fields are big-endian on disk.</summary>
public readonly record struct WalFrameHeader
{
    /// <summary>Size in bytes.</summary>
    public const int Size = 24;

    // Field offsets, each from the previous one.
    internal const int PgnoOffset = 0;
    internal const int CommitOffset = PgnoOffset + 4;
    /// <summary>The frame checksum covers the frame header bytes before this offset, then the page.</summary>
    internal const int Salt1Offset = CommitOffset + 4;
    internal const int Salt2Offset = Salt1Offset + 4;
    internal const int Checksum1Offset = Salt2Offset + 4;
    internal const int Checksum2Offset = Checksum1Offset + 4;

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
            Pgno = BinaryPrimitives.ReadUInt32BigEndian(source[PgnoOffset..]),
            Commit = BinaryPrimitives.ReadUInt32BigEndian(source[CommitOffset..]),
            Salt1 = BinaryPrimitives.ReadUInt32BigEndian(source[Salt1Offset..]),
            Salt2 = BinaryPrimitives.ReadUInt32BigEndian(source[Salt2Offset..]),
            Checksum1 = BinaryPrimitives.ReadUInt32BigEndian(source[Checksum1Offset..]),
            Checksum2 = BinaryPrimitives.ReadUInt32BigEndian(source[Checksum2Offset..]),
        };
        return true;
    }

    /// <summary>Writes the 24 bytes as stored (the checksum fields as given, not recomputed).</summary>
    public void Write(Span<byte> destination)
    {
        if (destination.Length < Size)
        {
            throw new ArgumentException($"destination too small for wal frame header: {destination.Length}", nameof(destination));
        }
        BinaryPrimitives.WriteUInt32BigEndian(destination[PgnoOffset..], Pgno);
        BinaryPrimitives.WriteUInt32BigEndian(destination[CommitOffset..], Commit);
        BinaryPrimitives.WriteUInt32BigEndian(destination[Salt1Offset..], Salt1);
        BinaryPrimitives.WriteUInt32BigEndian(destination[Salt2Offset..], Salt2);
        BinaryPrimitives.WriteUInt32BigEndian(destination[Checksum1Offset..], Checksum1);
        BinaryPrimitives.WriteUInt32BigEndian(destination[Checksum2Offset..], Checksum2);
    }
}
