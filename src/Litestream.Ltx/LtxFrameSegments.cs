using Litestream.Ltx.Buffers;
using Litestream.Ltx.Checksums;

namespace Litestream.Ltx;

/// <summary>
/// A run of consecutive page frames of one LTX file, cut at frame boundaries taken from the page index, that
/// can be fetched and decoded on its own (<see cref="LtxSegmentDecoder"/>).
/// </summary>
/// <param name="Offset">File offset of the first frame (or of the end marker in an empty last segment).</param>
/// <param name="End">File offset just past the segment: the next segment's offset, or the index's for the last one.</param>
/// <param name="PreviousPgno">Page number of the frame before this segment; 0 for the first.</param>
/// <param name="PageCount">Frames in the segment.</param>
/// <param name="FrameHash">CRC-64 over the segment's index entries (pgno, offset, size), checked against the frames.</param>
/// <param name="IsLast">The segment ends with the end marker.</param>
public readonly record struct LtxFrameSegment(long Offset, long End, uint PreviousPgno, int PageCount, ulong FrameHash, bool IsLast);

/// <summary>Opens a stream of <paramref name="length"/> bytes of an LTX file from <paramref name="offset"/> (a ranged GET).</summary>
public delegate ValueTask<Stream> LtxRangeOpener(long offset, long length, CancellationToken cancellationToken);

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

    /// <summary>The tail read first holds the index of most files: ~0.4 % of a file's size, 32 KiB to 1 MiB.</summary>
    private const int MinTailRead = 32 * 1024, MaxTailRead = 1024 * 1024;

    /// <summary>The validated header.</summary>
    public LtxHeader Header { get; }

    /// <summary>The segments in file order; together they hold every frame and the end marker.</summary>
    public IReadOnlyList<LtxFrameSegment> Segments { get; }

    /// <summary>The highest page number the file holds (its index's last entry); 0 when it holds none.</summary>
    public uint LastPgno { get; }

    /// <summary>The trailer (its file checksum is checked by <see cref="Verify"/>).</summary>
    public LtxTrailer Trailer { get; }

    /// <summary>
    /// Fetches the header and the page index of a file of <paramref name="fileSize"/> bytes (concurrently) and
    /// plans its segments (<see cref="Read"/>): one ranged read of the header and one of a tail that holds the
    /// index of most files; a larger index (~10 bytes a page: 1 MiB covers ~400 MB of pages) streams through
    /// its own ranged read, never held.
    /// </summary>
    /// <exception cref="LtxFormatException">The file is shorter than <paramref name="fileSize"/>, or its header or index is malformed.</exception>
    public static async ValueTask<LtxFrameSegments> ReadAsync(LtxRangeOpener open, long fileSize, long segmentBytes, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(open);
        if (fileSize < LtxPageIndexReader.MinFileSize)
        {
            LtxThrow.Format($"file of {fileSize} bytes is too short to be an ltx file");
        }
        int tailLength = (int)Math.Min(fileSize - LtxConstants.HeaderSize, Math.Clamp(fileSize / 256, MinTailRead, MaxTailRead));
        Task<byte[]> header = ReadRangeAsync(open, fileSize, 0, LtxConstants.HeaderSize, cancellationToken);
        byte[] tail = await ReadRangeAsync(open, fileSize, fileSize - tailLength, tailLength, cancellationToken).ConfigureAwait(false);
        byte[] headerBytes = await header.ConfigureAwait(false);
        long indexOffset = LtxPageIndexReader.IndexOffset(tail.AsSpan(tailLength - LtxPageIndexReader.FixedTailSize), fileSize);
        long tailStart = fileSize - tailLength;
        if (indexOffset >= tailStart)
        {
            return Read(headerBytes, new MemoryStream(tail, (int)(indexOffset - tailStart), (int)(fileSize - indexOffset), writable: false), fileSize, segmentBytes);
        }
        await using Stream index = await open(indexOffset, fileSize - indexOffset, cancellationToken).ConfigureAwait(false);
        return Read(headerBytes, index, fileSize, segmentBytes);
    }

    /// <summary>One ranged read read completely; a shorter body means the file is shorter than its listing says.</summary>
    private static async Task<byte[]> ReadRangeAsync(LtxRangeOpener open, long fileSize, long offset, int length, CancellationToken cancellationToken)
    {
        byte[] bytes = new byte[length];
        await using Stream body = await open(offset, length, cancellationToken).ConfigureAwait(false);
        int filled = await body.ReadAtLeastAsync(bytes, length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        if (filled < length)
        {
            LtxThrow.Format($"file is shorter than its listed size {fileSize} (ended at {offset + filled})");
        }
        return bytes;
    }

    /// <summary>
    /// Plans the segments of a file of <paramref name="fileSize"/> bytes from its 100 header bytes and
    /// <paramref name="tail"/>, a stream of the file from the page index (<see cref="LtxPageIndexReader.IndexOffset"/>) to its end (read once,
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
        var reader = new LtxPageIndexReader(source, 0);
        var segments = new List<LtxFrameSegment>();
        uint lockPgno = LtxConstants.LockPgno(header.PageSize);
        long maxFrame = LtxFrameReader.MaxFrameLength((int)header.PageSize);
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
                LtxThrow.Format($"page index entry for page {pgno} does not follow the previous frame: offset {offset}, size {size}, expected offset {expectedOffset}");
            }
            if (segmentPages > 0 && expectedOffset - segmentStart >= segmentBytes)
            {
                segments.Add(new LtxFrameSegment(segmentStart, expectedOffset, segmentPrevious, segmentPages, segmentHash, IsLast: false));
                segmentStart = expectedOffset;
                segmentPrevious = prev;
                segmentPages = 0;
                segmentHash = 0;
            }
            segmentHash = LtxPageIndexReader.HashEntry(segmentHash, pgno, offset, size);
            segmentPages++;
            expectedOffset += (long)size;
            prev = (uint)pgno;
        }
        long indexLength = reader.Consumed;
        long indexOffset = fileSize - LtxPageIndexReader.FixedTailSize - indexLength;
        if (expectedOffset + LtxConstants.PageHeaderSize != indexOffset)
        {
            LtxThrow.Format($"page index does not describe the file: frames end at {expectedOffset}, the index starts at {indexOffset}");
        }
        if (header.IsSnapshot)
        {
            LtxPageRules.CheckSnapshotEnd(header, lockPgno, prev);
        }
        segments.Add(new LtxFrameSegment(segmentStart, indexOffset, segmentPrevious, segmentPages, segmentHash, IsLast: true));

        Span<byte> fixedTail = stackalloc byte[LtxPageIndexReader.FixedTailSize];
        if (!source.TryReadExactly(fixedTail) || source.ReadByte() >= 0)
        {
            LtxThrow.Format($"page index and trailer do not end the file at {fileSize} bytes");
        }
        reader.CheckSizeField(fixedTail[..LtxConstants.PageIndexSizeFieldSize]);
        LtxTrailer trailer = LtxTrailer.Read(fixedTail[LtxConstants.PageIndexSizeFieldSize..]);
        trailer.Validate(header.NoChecksum);
        ulong tailCrc = Crc64Iso.Update(reader.Crc, fixedTail.Slice(LtxConstants.PageIndexSizeFieldSize, 8));
        return new LtxFrameSegments(header, [.. segments], prev, trailer, Crc64Iso.Compute(headerBytes), tailCrc, indexLength + LtxConstants.PageIndexSizeFieldSize + 8);
    }

    /// <summary>
    /// Checks the file checksum (and, for a checksummed snapshot, the post-apply checksum) from every
    /// segment's <see cref="LtxSegmentDecoder.Finish"/> result, in segment order.
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
