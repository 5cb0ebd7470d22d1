using System.Buffers.Binary;

namespace Litestream.Ltx;

/// <summary>The 16-byte LTX trailer: database checksum after applying, and the file checksum (LTX.md §6).</summary>
public readonly record struct LtxTrailer
{
    /// <summary>Size in bytes.</summary>
    public const int Size = LtxConstants.TrailerSize;

    /// <summary>Creates a trailer.</summary>
    public LtxTrailer(ulong postApplyChecksum, ulong fileChecksum)
    {
        PostApplyChecksum = postApplyChecksum;
        FileChecksum = fileChecksum;
    }

    /// <summary>Database checksum after applying the file; 0 with NoChecksum.</summary>
    public ulong PostApplyChecksum { get; init; }

    /// <summary>CRC-64/ISO of the file's logical content with the checksum flag set (LTX.md §5.3).</summary>
    public ulong FileChecksum { get; init; }

    /// <summary>Reads 16 bytes or throws <see cref="LtxFormatException"/>.</summary>
    public static LtxTrailer Read(ReadOnlySpan<byte> source)
    {
        if (source.Length < Size)
        {
            LtxThrow.Format($"short ltx trailer: {source.Length} bytes, need {Size}");
        }
        return new LtxTrailer(
            BinaryPrimitives.ReadUInt64BigEndian(source[LtxLayout.PostApplyChecksum..]),
            BinaryPrimitives.ReadUInt64BigEndian(source[LtxLayout.FileChecksum..]));
    }

    /// <summary>Writes the 16 bytes.</summary>
    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination[LtxLayout.PostApplyChecksum..], PostApplyChecksum);
        BinaryPrimitives.WriteUInt64BigEndian(destination[LtxLayout.FileChecksum..], FileChecksum);
    }

    /// <summary>Checks the checksum formats (ltx <c>Trailer.Validate</c>) for a file with or without NoChecksum.</summary>
    public void Validate(bool noChecksum)
    {
        if (noChecksum)
        {
            if (PostApplyChecksum != 0)
            {
                LtxThrow.Format("post-apply checksum not allowed");
            }
        }
        else if (PostApplyChecksum == 0)
        {
            LtxThrow.Format("post-apply checksum required");
        }
        else if ((PostApplyChecksum & LtxConstants.ChecksumFlag) == 0)
        {
            LtxThrow.Format("invalid post-apply checksum format");
        }
        if (FileChecksum == 0)
        {
            LtxThrow.Format("file checksum required");
        }
        if ((FileChecksum & LtxConstants.ChecksumFlag) == 0)
        {
            LtxThrow.Format("invalid file checksum format");
        }
    }
}
