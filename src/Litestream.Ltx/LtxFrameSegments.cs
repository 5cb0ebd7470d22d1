using System.Buffers.Binary;
using Litestream.Ltx.Buffers;
using Litestream.Ltx.Checksums;

namespace Litestream.Ltx;

/// <summary>
/// A run of consecutive page frames of one LTX file, cut at frame boundaries taken from the page index, that
/// can be fetched and decoded on its own (<see cref="LtxDecoder.ForSegment"/>).
/// </summary>
/// <param name="Offset">File offset of the first frame (or of the end marker in an empty last segment).</param>
/// <param name="End">File offset just past the segment: the next segment's offset, or the index's for the last one.</param>
/// <param name="PreviousPgno">Page number of the frame before this segment; 0 for the first.</param>
/// <param name="PageCount">Frames in the segment.</param>
/// <param name="FrameHash">CRC-64 over the segment's index entries (pgno, offset, size), checked against the frames.</param>
/// <param name="IsLast">The segment ends with the end marker.</param>
public readonly record struct LtxFrameSegment(long Offset, long End, uint PreviousPgno, int PageCount, ulong FrameHash, bool IsLast);

/// <summary>What decoding one segment computed, for <see cref="LtxFrameSegments.Verify"/>.</summary>
/// <param name="Crc">CRC-64 of the bytes the file checksum covers in this segment (LTX.md §5.3), from the empty state.</param>
/// <param name="HashedLength">How many such bytes: page headers, size prefixes and uncompressed pages.</param>
/// <param name="DatabaseChecksum">The segment's pages' share of the post-apply checksum (kept for checksummed snapshots only).</param>
public readonly record struct LtxSegmentChecksum(ulong Crc, long HashedLength, DatabaseChecksum DatabaseChecksum);

/// <summary>
/// An LTX file cut into independently decodable segments of about a given size, so that a large remote file
/// can be fetched with parallel ranged reads that are each decoded and applied as they stream in, with no
/// chunk buffered out of order. Built from the header and the page index at the file's tail, which are
/// checked as strictly as <see cref="LtxDecoder"/> checks them (ascending pages, a snapshot's pages without a
/// gap, frames contiguous from the header to the end marker, the index size field, the trailer); each segment
/// then proves its frames match its part of the index, and <see cref="Verify"/> recombines the segments'
/// CRCs into the file checksum. Memory is a few dozen bytes per segment, not per page.
/// </summary>
public sealed class LtxFrameSegments
{
    private readonly ulong _headerCrc;
    private readonly ulong _tailCrc;
    private readonly long _tailLength;

    private LtxFrameSegments(LtxHeader header, LtxFrameSegment[] segments, uint lastPgno, LtxTrailer trailer, ulong headerCrc, ulong tailCrc, long tailLength)
    {
        Header = header;
        LastPgno = lastPgno;
        Segments = segments;
        Trailer = trailer;
        _headerCrc = headerCrc;
        _tailCrc = tailCrc;
        _tailLength = tailLength;
    }

    /// <summary>Bytes at the end of a file that hold the index size field and the trailer.</summary>
    public const int FixedTailSize = LtxConstants.PageIndexSizeFieldSize + LtxConstants.TrailerSize;

    /// <summary>The validated header.</summary>
    public LtxHeader Header { get; }

    /// <summary>The segments in file order; together they hold every frame and the end marker.</summary>
    public IReadOnlyList<LtxFrameSegment> Segments { get; }

    /// <summary>The highest page number the file holds (its index's last entry); 0 when it holds none.</summary>
    public uint LastPgno { get; }

    /// <summary>The trailer (its file checksum is checked by <see cref="Verify"/>).</summary>
    public LtxTrailer Trailer { get; }

    /// <summary>
    /// Where the page index starts in a file of <paramref name="fileSize"/> bytes, from the last
    /// <see cref="FixedTailSize"/> bytes (the index size field and the trailer).
    /// </summary>
    /// <exception cref="LtxFormatException">The size field cannot describe an index in a file this size.</exception>
    public static long IndexOffset(ReadOnlySpan<byte> fixedTail, long fileSize)
    {
        if (fixedTail.Length != FixedTailSize)
        {
            throw new ArgumentException($"expected the last {FixedTailSize} bytes, got {fixedTail.Length}", nameof(fixedTail));
        }
        ulong size = BinaryPrimitives.ReadUInt64BigEndian(fixedTail);
        long room = fileSize - FixedTailSize - LtxConstants.HeaderSize - LtxConstants.PageHeaderSize;
        if (size == 0 || room < 1 || size > (ulong)room)
        {
            throw new LtxFormatException($"invalid page index size {size} in an ltx file of {fileSize} bytes");
        }
        return fileSize - FixedTailSize - (long)size;
    }

    /// <summary>
    /// Plans the segments of a file of <paramref name="fileSize"/> bytes from its 100 header bytes and
    /// <paramref name="tail"/>, a stream of the file from <see cref="IndexOffset"/> to its end (read once,
    /// forward). Segments are cut at the first frame boundary at least <paramref name="segmentBytes"/> past
    /// the segment's start.
    /// </summary>
    /// <exception cref="LtxFormatException">The header, index or trailer is malformed or inconsistent.</exception>
    public static LtxFrameSegments Read(ReadOnlySpan<byte> headerBytes, Stream tail, long fileSize, long segmentBytes)
    {
        ArgumentNullException.ThrowIfNull(tail);
        ArgumentOutOfRangeException.ThrowIfLessThan(segmentBytes, 1);
        if (headerBytes.Length != LtxConstants.HeaderSize)
        {
            throw new ArgumentException($"expected the {LtxConstants.HeaderSize} header bytes, got {headerBytes.Length}", nameof(headerBytes));
        }
        LtxHeader header = LtxDecoder.ParseHeader(headerBytes);
        using var source = new StreamSource(tail);
        var reader = new LtxIndexReader(source, 0);
        var segments = new List<LtxFrameSegment>();
        uint lockPgno = LtxConstants.LockPgno(header.PageSize);
        long maxFrame = LtxDecoder.MaxFrameLength((int)header.PageSize);
        long expectedOffset = LtxConstants.HeaderSize;
        long segmentStart = expectedOffset;
        uint segmentPrevious = 0, prev = 0;
        int segmentPages = 0;
        ulong segmentHash = 0;
        while (reader.Next() is var pgno && pgno != 0)
        {
            ulong offset = reader.Next(), size = reader.Next();
            LtxPageRules.CheckPlacement(header, lockPgno, prev, pgno);
            if (offset != (ulong)expectedOffset || size < LtxConstants.PageHeaderSize || size > (ulong)maxFrame)
            {
                throw new LtxFormatException($"page index entry for page {pgno} does not follow the previous frame: offset {offset}, size {size}, expected offset {expectedOffset}");
            }
            if (segmentPages > 0 && expectedOffset - segmentStart >= segmentBytes)
            {
                segments.Add(new LtxFrameSegment(segmentStart, expectedOffset, segmentPrevious, segmentPages, segmentHash, IsLast: false));
                segmentStart = expectedOffset;
                segmentPrevious = prev;
                segmentPages = 0;
                segmentHash = 0;
            }
            segmentHash = LtxDecoder.HashEntry(segmentHash, pgno, offset, size);
            segmentPages++;
            expectedOffset += (long)size;
            prev = (uint)pgno;
        }
        long indexLength = reader.Consumed;
        long indexOffset = fileSize - FixedTailSize - indexLength;
        if (expectedOffset + LtxConstants.PageHeaderSize != indexOffset)
        {
            throw new LtxFormatException($"page index does not describe the file: frames end at {expectedOffset}, the index starts at {indexOffset}");
        }
        if (header.IsSnapshot)
        {
            LtxPageRules.CheckSnapshotEnd(header, lockPgno, prev);
        }
        segments.Add(new LtxFrameSegment(segmentStart, indexOffset, segmentPrevious, segmentPages, segmentHash, IsLast: true));

        Span<byte> fixedTail = stackalloc byte[FixedTailSize];
        if (!source.TryReadExactly(fixedTail) || source.ReadByte() >= 0)
        {
            throw new LtxFormatException($"page index and trailer do not end the file at {fileSize} bytes");
        }
        reader.CheckSizeField(fixedTail[..LtxConstants.PageIndexSizeFieldSize]);
        LtxTrailer trailer = LtxTrailer.Read(fixedTail[LtxConstants.PageIndexSizeFieldSize..]);
        trailer.Validate(header.NoChecksum);
        ulong tailCrc = Crc64Iso.Update(reader.Crc, fixedTail.Slice(LtxConstants.PageIndexSizeFieldSize, 8));
        return new LtxFrameSegments(header, [.. segments], prev, trailer, Crc64Iso.Compute(headerBytes), tailCrc, indexLength + LtxConstants.PageIndexSizeFieldSize + 8);
    }

    /// <summary>
    /// Checks the file checksum (and, for a checksummed snapshot, the post-apply checksum) from every
    /// segment's <see cref="LtxDecoder.FinishSegment"/> result, in segment order.
    /// </summary>
    /// <exception cref="LtxChecksumMismatchException">The file was not what its trailer says.</exception>
    public LtxTrailer Verify(IReadOnlyList<LtxSegmentChecksum> parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        if (parts.Count != Segments.Count)
        {
            throw new ArgumentException($"{parts.Count} segment results for {Segments.Count} segments", nameof(parts));
        }
        ulong crc = _headerCrc;
        var database = new DatabaseChecksum();
        foreach (LtxSegmentChecksum part in parts)
        {
            crc = Crc64Iso.Combine(crc, part.Crc, part.HashedLength);
            database.Merge(part.DatabaseChecksum);
        }
        crc = Crc64Iso.Combine(crc, _tailCrc, _tailLength);
        ulong actual = LtxConstants.ChecksumFlag | crc;
        if (Trailer.FileChecksum != actual)
        {
            throw new LtxChecksumMismatchException("file", Trailer.FileChecksum, actual);
        }
        if (Header.IsSnapshot && !Header.NoChecksum && Trailer.PostApplyChecksum != database.Value)
        {
            throw new LtxChecksumMismatchException("post-apply", Trailer.PostApplyChecksum, database.Value);
        }
        return Trailer;
    }
}

/// <summary>Reads a page index's varints one by one, continuing a CRC over them and counting their bytes.</summary>
internal sealed class LtxIndexReader(StreamSource source, ulong crc)
{
    private readonly byte[] _varint = new byte[UVarint.MaxLength];

    public ulong Crc { get; private set; } = crc;

    /// <summary>Bytes of varints read.</summary>
    public long Consumed { get; private set; }

    public ulong Next()
    {
        for (int i = 0; i < UVarint.MaxLength; i++)
        {
            int b = source.ReadByte();
            if (b < 0)
            {
                throw new LtxFormatException($"unexpected end of file in page index at offset {source.Position}");
            }
            _varint[i] = (byte)b;
            if (b < 0x80)
            {
                ReadOnlySpan<byte> bytes = _varint.AsSpan(0, i + 1);
                Crc = Crc64Iso.Update(Crc, bytes);
                Consumed += bytes.Length;
                if (!UVarint.TryRead(bytes, out ulong value, out _))
                {
                    break;
                }
                return value;
            }
        }
        throw new LtxFormatException($"invalid varint in page index at offset {source.Position}");
    }

    /// <summary>Checks the 8-byte size field that follows the varints against the bytes read, and folds it into <see cref="Crc"/>.</summary>
    public void CheckSizeField(ReadOnlySpan<byte> sizeField)
    {
        ulong stored = BinaryPrimitives.ReadUInt64BigEndian(sizeField);
        if (stored != (ulong)Consumed)
        {
            throw new LtxFormatException($"page index size mismatch: stored {stored}, actual {Consumed}");
        }
        Crc = Crc64Iso.Update(Crc, sizeField);
    }
}
