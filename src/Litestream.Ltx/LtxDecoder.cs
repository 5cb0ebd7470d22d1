using System.Buffers;
using Litestream.Ltx.Buffers;
using Litestream.Ltx.Checksums;

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

    private readonly Stream _input;
    private readonly bool _leaveOpen;
    private readonly StreamSource _source;
    // The frames decoded are checked against the trailing page index by their count and a CRC-64 over their
    // (pgno, offset, size) (LtxFrameReader), so memory stays constant whatever the file's size (a list would
    // cost 24 bytes a page: 6 MB per GB restored). The list itself is kept only when the caller wants PageIndex.
    private readonly List<LtxPageIndexEntry>? _seen = [];
    private State _state = State.Header;
    private LtxHeader _header;
    private LtxFrameReader? _frames;
    private LtxPageIndex? _pageIndex;
    private LtxTrailer _trailer;

    /// <summary>Creates a decoder over <paramref name="input"/>.</summary>
    public LtxDecoder(Stream input, bool leaveOpen = false)
    {
        _input = input ?? throw new ArgumentNullException(nameof(input));
        _leaveOpen = leaveOpen;
        _source = new StreamSource(input);
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

    /// <summary>The keys for encrypted files (docs/ENCRYPTION.md); an encrypted file without its key is refused.</summary>
    public LtxKeyRing? Keys { get; init; }

    /// <summary>Reads and validates the header.</summary>
    public LtxHeader DecodeHeader()
    {
        RequireState(State.Header, "decode header");
        Span<byte> bytes = stackalloc byte[LtxConstants.HeaderSize];
        if (!_source.TryReadExactly(bytes))
        {
            LtxThrow.Format($"unexpected end of file reading ltx header: {_source.Position} bytes");
        }
        LtxHeader header = ParseHeader(bytes);
        _header = header;
        _frames = new LtxFrameReader(_source, header, Crc64Iso.Update(0, bytes), previousPgno: 0, Keys);
        _state = State.Pages;
        return header;
    }

    /// <summary>Checks the magic and validates the 100 header bytes (whole-file and segmented reads alike).</summary>
    internal static LtxHeader ParseHeader(ReadOnlySpan<byte> bytes)
    {
        if (!bytes[..4].SequenceEqual("LTX1"u8))
        {
            LtxThrow.Format("invalid ltx file: bad magic");
        }
        LtxHeader header = LtxHeader.Read(bytes);
        header.Validate();
        return header;
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
        LtxFrameReader frames = _frames!;
        if (!frames.TryRead(page, out pageHeader, out LtxPageIndexEntry entry))
        {
            if (_header.IsSnapshot)
            {
                LtxPageRules.CheckSnapshotEnd(_header, frames.LockPgno, frames.PreviousPgno);
            }
            _state = State.Index;
            return false;
        }
        _seen?.Add(entry);
        return true;
    }

    /// <summary>
    /// Reads (and discards) any pages not yet decoded, then the page index and trailer; verifies the
    /// index against the frames, the file checksum and, for checksummed snapshots, the post-apply checksum.
    /// </summary>
    public LtxTrailer Close()
    {
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
        LtxFrameReader frames = _frames!;
        ulong crc = ReadPageIndex(frames);

        Span<byte> trailerBytes = stackalloc byte[LtxConstants.TrailerSize];
        frames.ReadExactly(trailerBytes, "trailer");
        LtxTrailer trailer = LtxTrailer.Read(trailerBytes);
        trailer.Validate(_header.NoChecksum);
        crc = Crc64Iso.Update(crc, trailerBytes[..8]);
        ulong actual = LtxConstants.ChecksumFlag | crc;
        if (trailer.FileChecksum != actual)
        {
            throw new LtxChecksumMismatchException("file", trailer.FileChecksum, actual);
        }
        ulong database = frames.DatabaseChecksum.Value;
        if (_header.IsSnapshot && !_header.NoChecksum && trailer.PostApplyChecksum != database)
        {
            throw new LtxChecksumMismatchException("post-apply", trailer.PostApplyChecksum, database);
        }
        _trailer = trailer;
        _pageIndex = _seen is null ? null : new LtxPageIndex(_seen.ToArray());
        _state = State.Closed;
        frames.Dispose();
        return trailer;
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
            LtxThrow.Format($"cannot decode database from non-snapshot file: min txid {_header.MinTxid}");
        }
        int pageSize = (int)_header.PageSize;
        uint lockPgno = LtxConstants.LockPgno(_header.PageSize);
        byte[] page = ArrayPool<byte>.Shared.Rent(pageSize);
        try
        {
            Span<byte> buffer = page.AsSpan(0, pageSize);
            for (uint pgno = 1; pgno <= _header.Commit; pgno++)
            {
                if (pgno == lockPgno)
                {
                    buffer.Clear();
                    output.Write(buffer);
                    continue;
                }
                if (!TryDecodePage(buffer, out LtxPageHeader header))
                {
                    LtxThrow.Format($"snapshot ended at page {pgno - 1}, expected commit {_header.Commit}");
                }
                if (header.Pgno != pgno)
                {
                    LtxThrow.Format($"nonsequential page numbers in snapshot: expected {pgno}, got {header.Pgno}");
                }
                output.Write(buffer);
            }
            if (TryDecodePage(buffer, out LtxPageHeader extra))
            {
                LtxThrow.Format($"page {extra.Pgno} past commit {_header.Commit} in snapshot");
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
        => LtxFrameReader.DecodeFrame(frame, page, cipher: null);

    /// <summary>
    /// <see cref="DecodePageData(ReadOnlySpan{byte}, Span{byte})"/> for a frame of an encrypted file, opened with its
    /// <paramref name="cipher"/> (<see cref="LtxPageCipher.ForFile"/>); null for a plain file.
    /// </summary>
    public static LtxPageHeader DecodePageData(ReadOnlySpan<byte> frame, Span<byte> page, LtxFileCipher? cipher)
        => LtxFrameReader.DecodeFrame(frame, page, cipher);

    /// <summary>Returns rented buffers (and disposes the stream unless leaveOpen). Idempotent.</summary>
    public void Dispose()
    {
        _state = State.Closed;
        _frames?.Dispose();
        _source.Dispose();
        if (!_leaveOpen)
        {
            _input.Dispose();
        }
    }

    /// <summary>Reads the page index, which must list exactly the frames decoded; returns the file CRC continued over it.</summary>
    private ulong ReadPageIndex(LtxFrameReader frames)
    {
        var reader = new LtxPageIndexReader(_source, frames.Crc);
        ulong indexHash = 0;
        long entries = 0;
        while (reader.Next() is var pgno && pgno != 0)
        {
            if (++entries > frames.FrameCount)
            {
                LtxThrow.Format($"page index lists page {pgno} that the file does not contain");
            }
            indexHash = LtxPageIndexReader.HashEntry(indexHash, pgno, reader.Next(), reader.Next());
        }
        if (entries != frames.FrameCount || indexHash != frames.FrameHash)
        {
            LtxThrow.Format(entries != frames.FrameCount
                ? $"page index mismatch: it lists {entries} pages, the file holds {frames.FrameCount} page frames"
                : "page index mismatch: its pages, offsets or sizes differ from the page frames");
        }
        Span<byte> sizeField = stackalloc byte[LtxConstants.PageIndexSizeFieldSize];
        frames.ReadExactly(sizeField, "page index size");
        reader.CheckSizeField(sizeField);
        return reader.Crc;
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
}
