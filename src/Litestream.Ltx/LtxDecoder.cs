using System.Buffers;
using System.Buffers.Binary;
using Litestream.Ltx.Buffers;
using Litestream.Ltx.Checksums;
using Litestream.Ltx.Compression;

namespace Litestream.Ltx;

/// <summary>
/// Reads one LTX v3 file from any readable stream (no seeking): header, pages in either encoding
/// (size-prefixed LZ4 block, or the legacy per-page LZ4 frame), page index and trailer. Verifies the
/// file checksum and, for checksummed snapshots, the post-apply database checksum. Every malformed
/// input raises <see cref="LtxFormatException"/> with a specific message; sizes read from the file are
/// bounded before anything is allocated. Buffers are rented once per decoder.
/// </summary>
public sealed class LtxDecoder : IDisposable
{
    private enum State { Header, Pages, Index, Closed }

    // An LZ4 frame adds at most 19 header bytes, 8 per block and 4 of content checksum; pages are ≤ 64 KiB.
    private const int FrameOverhead = 64;

    private readonly Stream _input;
    private readonly bool _leaveOpen;
    private readonly StreamSource _source;
    // The frames decoded, for the check against the trailing page index: their count and a CRC-64 over their
    // (pgno, offset, size), so memory stays constant whatever the file's size (a list would cost 24 bytes a
    // page: 6 MB per GB restored). The list itself is kept only when the caller wants PageIndex.
    private readonly List<LtxPageIndexEntry>? _seen = [];
    private long _frameCount;
    private ulong _frameHash;
    private State _state = State.Header;
    private LtxHeader _header;
    private byte[]? _scratch;
    private ulong _crc;
    private uint _prevPgno;
    private uint _lockPgno;
    private bool _trackDatabaseChecksum;
    private DatabaseChecksum _databaseChecksum;
    private LtxPageIndex? _pageIndex;
    private LtxTrailer _trailer;
    // Segment mode (ForSegment): the frames decoded are one segment's, checked against it by FinishSegment.
    private readonly LtxFrameSegment? _segment;
    private long _hashedLength;

    /// <summary>Creates a decoder over <paramref name="input"/>.</summary>
    public LtxDecoder(Stream input, bool leaveOpen = false)
        : this(input, leaveOpen, segment: null)
    {
    }

    private LtxDecoder(Stream input, bool leaveOpen, LtxFrameSegment? segment)
    {
        _input = input ?? throw new ArgumentNullException(nameof(input));
        _leaveOpen = leaveOpen;
        _segment = segment;
        _source = new StreamSource(input, segment?.Offset ?? 0);
    }

    /// <summary>
    /// A decoder for one segment of a file planned by <see cref="LtxFrameSegments"/>: <paramref name="input"/>
    /// holds exactly the bytes from <see cref="LtxFrameSegment.Offset"/> to <see cref="LtxFrameSegment.End"/>.
    /// <see cref="TryDecodePage"/> returns false at the segment's end (after the end marker in the last
    /// segment); then <see cref="FinishSegment"/> checks the frames against the index and returns the
    /// segment's share of the checksums. Page order and bounds are checked as for a whole file.
    /// </summary>
    public static LtxDecoder ForSegment(Stream input, LtxHeader header, LtxFrameSegment segment, bool leaveOpen = false)
    {
        var decoder = new LtxDecoder(input, leaveOpen, segment) { KeepPageIndex = false };
        decoder.Begin(header);
        decoder._prevPgno = segment.PreviousPgno;
        return decoder;
    }

    /// <summary>
    /// Keep the <see cref="PageIndex"/> (true by default). Without it the index is verified just the same but
    /// not kept, and memory does not grow with the number of pages.
    /// </summary>
    public bool KeepPageIndex
    {
        get => _seen is not null;
        init => _seen = value ? [] : null;
    }

    /// <summary>The header (after <see cref="DecodeHeader"/>).</summary>
    public LtxHeader Header => _header;

    /// <summary>The trailer (after <see cref="Close"/>).</summary>
    public LtxTrailer Trailer => _trailer;

    /// <summary>The page index as verified against the frames (after <see cref="Close"/>).</summary>
    public LtxPageIndex PageIndex => _pageIndex ?? throw new InvalidOperationException(_seen is null
        ? "page index not kept: KeepPageIndex is false"
        : "page index is available after Close");

    /// <summary>Bytes read from the input so far.</summary>
    public long BytesRead => _source.Position;

    /// <summary>Reads and validates the header.</summary>
    public LtxHeader DecodeHeader()
    {
        RequireState(State.Header, "decode header");
        Span<byte> bytes = stackalloc byte[LtxConstants.HeaderSize];
        if (!_source.TryReadExactly(bytes))
        {
            throw new LtxFormatException($"unexpected end of file reading ltx header: {_source.Position} bytes");
        }
        LtxHeader header = ParseHeader(bytes);
        _crc = Crc64Iso.Update(_crc, bytes);
        Begin(header);
        return header;
    }

    /// <summary>Checks the magic and validates the 100 header bytes (whole-file and segmented reads alike).</summary>
    internal static LtxHeader ParseHeader(ReadOnlySpan<byte> bytes)
    {
        if (!bytes[..4].SequenceEqual("LTX1"u8))
        {
            throw new LtxFormatException("invalid ltx file: bad magic");
        }
        LtxHeader header = LtxHeader.Read(bytes);
        header.Validate();
        return header;
    }

    private void Begin(LtxHeader header)
    {
        _header = header;
        _lockPgno = LtxConstants.LockPgno(header.PageSize);
        _trackDatabaseChecksum = header.IsSnapshot && !header.NoChecksum;
        _scratch = ArrayPool<byte>.Shared.Rent(Lz4Block.MaxCompressedLength((int)header.PageSize) + FrameOverhead);
        _state = State.Pages;
    }

    /// <summary>
    /// Decodes the next page into <paramref name="page"/> (exactly PageSize bytes). Returns false at the
    /// end marker, after which only <see cref="Close"/> is valid.
    /// </summary>
    public bool TryDecodePage(Span<byte> page, out LtxPageHeader pageHeader)
    {
        RequireState(State.Pages, "decode page");
        if (page.Length != _header.PageSize)
        {
            throw new ArgumentException($"page buffer is {page.Length} bytes, expected {_header.PageSize}", nameof(page));
        }
        long offset = _source.Position;
        if (_segment is { IsLast: false } segment && offset >= segment.End)
        {
            pageHeader = default;
            _state = State.Index;
            return false;
        }
        Span<byte> head = stackalloc byte[LtxConstants.PageHeaderSize + LtxConstants.PageSizePrefixSize];
        ReadExactly(head[..LtxConstants.PageHeaderSize], "page header");
        pageHeader = LtxPageHeader.Read(head);
        if (pageHeader.IsEndMarker)
        {
            if (_header.IsSnapshot && _segment is null)
            {
                // A segment's pages were checked against the whole index when the segments were planned.
                LtxPageRules.CheckSnapshotEnd(_header, _lockPgno, _prevPgno);
            }
            _crc = Crc64Iso.Update(_crc, head[..LtxConstants.PageHeaderSize]);
            _hashedLength += LtxConstants.PageHeaderSize;
            _state = State.Index;
            return false;
        }
        ValidatePageHeader(pageHeader);

        byte[] scratch = _scratch!;
        int hashed = LtxConstants.PageHeaderSize;
        if (pageHeader.HasSizePrefix)
        {
            ReadExactly(head[LtxConstants.PageHeaderSize..], "page size");
            uint size = BinaryPrimitives.ReadUInt32BigEndian(head[LtxConstants.PageHeaderSize..]);
            if (size == 0 || size > (uint)Lz4Block.MaxCompressedLength((int)_header.PageSize))
            {
                throw new LtxFormatException($"invalid compressed size {size} for page {pageHeader.Pgno} at offset {offset}");
            }
            ReadExactly(scratch.AsSpan(0, (int)size), "page data");
            Lz4Block.DecompressPage(scratch.AsSpan(0, (int)size), page, pageHeader.Pgno);
            hashed += LtxConstants.PageSizePrefixSize;
        }
        else
        {
            int frameLength = ReadLegacyFrame(scratch, pageHeader.Pgno);
            Lz4Block.DecodeFrame(scratch.AsSpan(0, frameLength), page, pageHeader.Pgno);
        }
        _crc = Crc64Iso.Update(_crc, head[..hashed]);
        _crc = Crc64Iso.Update(_crc, page);
        _hashedLength += hashed + page.Length;
        if (_trackDatabaseChecksum)
        {
            _databaseChecksum.Add(PageChecksum.Compute(pageHeader.Pgno, page));
        }
        var entry = new LtxPageIndexEntry(pageHeader.Pgno, offset, _source.Position - offset);
        _frameHash = HashEntry(_frameHash, entry.Pgno, (ulong)entry.Offset, (ulong)entry.Size);
        _frameCount++;
        _seen?.Add(entry);
        _prevPgno = pageHeader.Pgno;
        return true;
    }

    /// <summary>
    /// Reads (and discards) any pages not yet decoded, then the page index and trailer; verifies the
    /// index against the frames, the file checksum and, for checksummed snapshots, the post-apply checksum.
    /// </summary>
    public LtxTrailer Close()
    {
        if (_segment is not null)
        {
            throw new InvalidOperationException("a segment decoder finishes with FinishSegment");
        }
        if (_state == State.Closed)
        {
            return _trailer;
        }
        if (_state == State.Header)
        {
            DecodeHeader();
        }
        if (_state == State.Pages)
        {
            byte[] page = ArrayPool<byte>.Shared.Rent((int)_header.PageSize);
            try
            {
                while (TryDecodePage(page.AsSpan(0, (int)_header.PageSize), out _))
                {
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(page);
            }
        }
        ReadPageIndex();

        Span<byte> trailerBytes = stackalloc byte[LtxConstants.TrailerSize];
        ReadExactly(trailerBytes, "trailer");
        LtxTrailer trailer = LtxTrailer.Read(trailerBytes);
        trailer.Validate(_header.NoChecksum);
        _crc = Crc64Iso.Update(_crc, trailerBytes[..8]);
        ulong actual = LtxConstants.ChecksumFlag | _crc;
        if (trailer.FileChecksum != actual)
        {
            throw new LtxChecksumMismatchException("file", trailer.FileChecksum, actual);
        }
        if (_trackDatabaseChecksum && trailer.PostApplyChecksum != _databaseChecksum.Value)
        {
            throw new LtxChecksumMismatchException("post-apply", trailer.PostApplyChecksum, _databaseChecksum.Value);
        }
        _trailer = trailer;
        _pageIndex = _seen is null ? null : new LtxPageIndex(_seen.ToArray());
        _state = State.Closed;
        ReturnBuffers();
        return trailer;
    }

    /// <summary>
    /// Ends a segment decoder (<see cref="ForSegment"/>) after <see cref="TryDecodePage"/> returned false:
    /// checks that the frames were exactly the segment's index entries and that the input ended with the
    /// segment, and returns what <see cref="LtxFrameSegments.Verify"/> needs.
    /// </summary>
    /// <exception cref="LtxFormatException">The frames differ from the index or the input holds more than the segment.</exception>
    public LtxSegmentChecksum FinishSegment()
    {
        LtxFrameSegment segment = _segment ?? throw new InvalidOperationException("not a segment decoder (ForSegment)");
        RequireState(State.Index, "finish segment");
        if (_source.Position != segment.End || _source.ReadByte() >= 0)
        {
            throw new LtxFormatException($"segment {segment.Offset}-{segment.End} does not end where its frames end ({_source.Position})");
        }
        if (_frameCount != segment.PageCount || _frameHash != segment.FrameHash)
        {
            throw new LtxFormatException(_frameCount != segment.PageCount
                ? $"page index mismatch: it lists {segment.PageCount} pages at {segment.Offset}-{segment.End}, the file holds {_frameCount} page frames there"
                : $"page index mismatch: its pages, offsets or sizes differ from the page frames at {segment.Offset}-{segment.End}");
        }
        _state = State.Closed;
        ReturnBuffers();
        return new LtxSegmentChecksum(_crc, _hashedLength, _databaseChecksum);
    }

    /// <summary>
    /// Materialises a snapshot (MinTxid 1) as a database image: pages 1..Commit in order, PageSize zero
    /// bytes for the lock page, then verifies the file (ltx <c>DecodeDatabaseTo</c>).
    /// </summary>
    public void DecodeDatabaseTo(Stream output)
    {
        if (_state == State.Header)
        {
            DecodeHeader();
        }
        if (!_header.IsSnapshot)
        {
            throw new LtxFormatException($"cannot decode database from non-snapshot file: min txid {_header.MinTxid}");
        }
        int pageSize = (int)_header.PageSize;
        byte[] page = ArrayPool<byte>.Shared.Rent(pageSize);
        try
        {
            Span<byte> buffer = page.AsSpan(0, pageSize);
            for (uint pgno = 1; pgno <= _header.Commit; pgno++)
            {
                if (pgno == _lockPgno)
                {
                    buffer.Clear();
                    output.Write(buffer);
                    continue;
                }
                if (!TryDecodePage(buffer, out LtxPageHeader header))
                {
                    throw new LtxFormatException($"snapshot ended at page {pgno - 1}, expected commit {_header.Commit}");
                }
                if (header.Pgno != pgno)
                {
                    throw new LtxFormatException($"nonsequential page numbers in snapshot: expected {pgno}, got {header.Pgno}");
                }
                output.Write(buffer);
            }
            if (TryDecodePage(buffer, out LtxPageHeader extra))
            {
                throw new LtxFormatException($"page {extra.Pgno} past commit {_header.Commit} in snapshot");
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(page);
        }
        Close();
    }

    /// <summary>
    /// Decodes one page frame fetched by a ranged read through the page index: exactly the 6-byte page
    /// header and its payload in either encoding (an index entry's offset and size), into
    /// <paramref name="page"/> (PageSize bytes). Returns the page header.
    /// </summary>
    /// <exception cref="LtxFormatException">The frame is malformed, has bytes past its payload, or does not decode to exactly one page.</exception>
    public static LtxPageHeader DecodePageData(ReadOnlySpan<byte> frame, Span<byte> page)
    {
        if (frame.Length < LtxConstants.PageHeaderSize)
        {
            throw new LtxFormatException($"short page frame: {frame.Length} bytes");
        }
        LtxPageHeader header = LtxPageHeader.Read(frame);
        header.Validate();
        ReadOnlySpan<byte> payload = frame[LtxConstants.PageHeaderSize..];
        int consumed;
        if (header.HasSizePrefix)
        {
            if (payload.Length < LtxConstants.PageSizePrefixSize)
            {
                throw new LtxFormatException($"truncated page frame for page {header.Pgno}");
            }
            uint size = BinaryPrimitives.ReadUInt32BigEndian(payload);
            if (size > (uint)(payload.Length - LtxConstants.PageSizePrefixSize))
            {
                throw new LtxFormatException($"truncated page frame for page {header.Pgno}: {size} bytes announced, {payload.Length - LtxConstants.PageSizePrefixSize} present");
            }
            Lz4Block.DecompressPage(payload.Slice(LtxConstants.PageSizePrefixSize, (int)size), page, header.Pgno);
            consumed = LtxConstants.PageSizePrefixSize + (int)size;
        }
        else
        {
            consumed = Lz4Block.DecodeFrame(payload, page, header.Pgno);
        }
        if (consumed != payload.Length)
        {
            throw new LtxFormatException($"page frame for page {header.Pgno} has {payload.Length - consumed} bytes past its payload");
        }
        return header;
    }

    /// <summary>Largest frame (page header + payload) a page of <paramref name="pageSize"/> bytes may take in either encoding.</summary>
    internal static long MaxFrameLength(int pageSize)
        => LtxConstants.PageHeaderSize + Lz4Block.MaxCompressedLength(pageSize) + FrameOverhead;

    /// <summary>Returns rented buffers (and disposes the stream unless leaveOpen). Idempotent.</summary>
    public void Dispose()
    {
        _state = State.Closed;
        ReturnBuffers();
        _source.Dispose();
        if (!_leaveOpen)
        {
            _input.Dispose();
        }
    }

    private void ValidatePageHeader(LtxPageHeader header)
    {
        if (header.Pgno == 0)
        {
            throw new LtxFormatException($"page number required (page flags 0x{header.Flags:x4})");
        }
        if ((header.Flags & ~LtxConstants.PageHeaderFlagMask) != 0)
        {
            throw new LtxFormatException(_frameCount == 0
                ? $"invalid page header flags: 0x{header.Flags:x4} (not an ltx v3 file; ltx v1/v2 files are not supported)"
                : $"invalid page header flags: 0x{header.Flags:x4}");
        }
        LtxPageRules.CheckPlacement(_header, _lockPgno, _prevPgno, header.Pgno);
    }

    /// <summary>Reads one legacy LZ4 frame into scratch by following its framing; returns its length.</summary>
    private int ReadLegacyFrame(byte[] scratch, uint pgno)
    {
        Span<byte> buffer = scratch;
        ReadExactly(buffer[..6], "lz4 frame header");
        int pos = Lz4Block.FrameHeaderLength(buffer, pgno);
        byte flg = buffer[4];
        ReadExactly(buffer[6..pos], "lz4 frame header");
        int blockTrailer = Lz4Block.HasBlockChecksums(flg) ? 4 : 0;
        while (true)
        {
            EnsureRoom(buffer, pos, 4, pgno);
            ReadExactly(buffer.Slice(pos, 4), "lz4 block size");
            uint raw = BinaryPrimitives.ReadUInt32LittleEndian(buffer[pos..]);
            pos += 4;
            if (raw == 0)
            {
                break;
            }
            int size = (int)(raw & 0x7FFFFFFF) + blockTrailer;
            EnsureRoom(buffer, pos, size, pgno);
            ReadExactly(buffer.Slice(pos, size), "lz4 block");
            pos += size;
        }
        if (Lz4Block.HasContentChecksum(flg))
        {
            EnsureRoom(buffer, pos, 4, pgno);
            ReadExactly(buffer.Slice(pos, 4), "lz4 content checksum");
            pos += 4;
        }
        return pos;
    }

    private static void EnsureRoom(Span<byte> buffer, int pos, int needed, uint pgno)
    {
        if (needed < 0 || needed > buffer.Length - pos)
        {
            throw new LtxFormatException($"lz4 frame for page {pgno} is larger than a page can compress to");
        }
    }

    private void ReadPageIndex()
    {
        // The index must list exactly the frames we decoded; read it varint by varint, hashing as we go.
        var reader = new LtxIndexReader(_source, _crc);
        ulong indexHash = 0;
        long entries = 0;
        while (reader.Next() is var pgno && pgno != 0)
        {
            if (++entries > _frameCount)
            {
                throw new LtxFormatException($"page index lists page {pgno} that the file does not contain");
            }
            indexHash = HashEntry(indexHash, pgno, reader.Next(), reader.Next());
        }
        if (entries != _frameCount || indexHash != _frameHash)
        {
            throw new LtxFormatException(entries != _frameCount
                ? $"page index mismatch: it lists {entries} pages, the file holds {_frameCount} page frames"
                : "page index mismatch: its pages, offsets or sizes differ from the page frames");
        }
        Span<byte> sizeField = stackalloc byte[LtxConstants.PageIndexSizeFieldSize];
        ReadExactly(sizeField, "page index size");
        reader.CheckSizeField(sizeField);
        _crc = reader.Crc;
    }

    /// <summary>Folds one index entry into a running hash (the frames' and the index's must agree).</summary>
    internal static ulong HashEntry(ulong hash, ulong pgno, ulong offset, ulong size)
    {
        Span<ulong> entry = [pgno, offset, size];
        return Crc64Iso.Update(hash, System.Runtime.InteropServices.MemoryMarshal.AsBytes(entry));
    }

    private void ReadExactly(Span<byte> destination, string what)
    {
        if (!_source.TryReadExactly(destination))
        {
            throw new LtxFormatException($"unexpected end of file reading {what} at offset {_source.Position}");
        }
    }

    private void RequireState(State expected, string action)
    {
        if (_state != expected)
        {
            throw new InvalidOperationException(_state == State.Closed
                ? $"cannot {action}: decoder closed"
                : $"cannot {action}: expected {expected}, decoder is at {_state}");
        }
    }

    private void ReturnBuffers()
    {
        if (_scratch is not null)
        {
            ArrayPool<byte>.Shared.Return(_scratch);
            _scratch = null;
        }
    }
}
