using System.Buffers;
using System.Buffers.Binary;
using Litestream.Ltx.Buffers;
using Litestream.Ltx.Checksums;
using Litestream.Ltx.Compression;

namespace Litestream.Ltx;

/// <summary>
/// Reads page frames in file order from a stream, in either page encoding (size-prefixed LZ4 block, or the
/// legacy per-page LZ4 frame), checking each page's place (<see cref="LtxPageRules"/>) and keeping what the
/// file's checks need: the CRC of the bytes the file checksum covers, a checksummed snapshot's post-apply
/// checksum, and a hash of the frames' index entries with their count, so memory stays constant whatever the
/// file's size. <see cref="LtxDecoder"/> reads a whole file's frames with it, <see cref="LtxSegmentDecoder"/>
/// one segment's. An encrypted file's payloads are opened with its key (docs/ENCRYPTION.md). Rents one scratch
/// buffer (two for an encrypted file).
/// </summary>
internal sealed class LtxFrameReader : IDisposable
{
    // An LZ4 frame adds at most 19 header bytes, 8 per block and 4 of content checksum; pages are ≤ 64 KiB.
    private const int FrameOverhead = 64;

    private readonly StreamSource _source;
    private readonly LtxHeader _header;
    private readonly bool _trackDatabaseChecksum;
    private byte[]? _scratch;
    private byte[]? _opened;
    private LtxFileCipher? _cipher;
    private DatabaseChecksum _databaseChecksum;

    /// <param name="source">Positioned at the first frame to read.</param>
    /// <param name="header">The file's validated header.</param>
    /// <param name="crc">The file CRC so far (the header's for a whole file; the empty state for a segment).</param>
    /// <param name="previousPgno">Page number of the frame before the first one read; 0 at the file's first frame.</param>
    /// <param name="keys">Keys for an encrypted file; such a file without its key is refused here.</param>
    public LtxFrameReader(StreamSource source, LtxHeader header, ulong crc, uint previousPgno, LtxKeyRing? keys)
    {
        if (header.IsEncrypted)
        {
            _cipher = (keys ?? throw new LtxKeyMissingException(header.KeyId, null)).Find(header.KeyId).ForFile(header);
            _opened = ArrayPool<byte>.Shared.Rent(Lz4Block.MaxCompressedLength((int)header.PageSize));
        }
        _source = source;
        _header = header;
        LockPgno = LtxConstants.LockPgno(header.PageSize);
        _trackDatabaseChecksum = header.IsSnapshot && !header.NoChecksum;
        _scratch = ArrayPool<byte>.Shared.Rent(Lz4Block.MaxCompressedLength((int)header.PageSize) + FrameOverhead);
        Crc = crc;
        PreviousPgno = previousPgno;
    }

    /// <summary>The lock page's number for this page size (never stored).</summary>
    public uint LockPgno { get; }

    /// <summary>Page number of the last frame read (or the one given at construction).</summary>
    public uint PreviousPgno { get; private set; }

    /// <summary>The file CRC continued over every frame byte it covers (LTX.md §5.3).</summary>
    public ulong Crc { get; private set; }

    /// <summary>How many bytes <see cref="Crc"/> covers past the one given at construction.</summary>
    public long HashedLength { get; private set; }

    /// <summary>Frames read.</summary>
    public long FrameCount { get; private set; }

    /// <summary>The frames' index entries folded with <see cref="LtxPageIndexReader.HashEntry"/>.</summary>
    public ulong FrameHash { get; private set; }

    /// <summary>The pages' share of the post-apply checksum (kept for checksummed snapshots only).</summary>
    public DatabaseChecksum DatabaseChecksum => _databaseChecksum;

    /// <summary>Largest frame (page header + payload) a page of <paramref name="pageSize"/> bytes may take in either encoding.</summary>
    public static long MaxFrameLength(int pageSize)
        => LtxConstants.PageHeaderSize + Lz4Block.MaxCompressedLength(pageSize) + FrameOverhead;

    /// <summary>
    /// Reads the next frame into <paramref name="page"/> (PageSize bytes) and returns its index entry; false at
    /// the end marker, which is folded into <see cref="Crc"/>.
    /// </summary>
    public bool TryRead(Span<byte> page, out LtxPageHeader pageHeader, out LtxPageIndexEntry entry)
    {
        long offset = _source.Position;
        Span<byte> head = stackalloc byte[LtxConstants.PageHeaderSize + LtxConstants.PageSizePrefixSize];
        ReadExactly(head[..LtxConstants.PageHeaderSize], "page header");
        pageHeader = LtxPageHeader.Read(head);
        if (pageHeader.IsEndMarker)
        {
            Crc = Crc64Iso.Update(Crc, head[..LtxConstants.PageHeaderSize]);
            HashedLength += LtxConstants.PageHeaderSize;
            entry = default;
            return false;
        }
        ValidatePageHeader(pageHeader);

        byte[] scratch = _scratch ?? throw new ObjectDisposedException(nameof(LtxFrameReader));
        int hashed = LtxConstants.PageHeaderSize;
        // A plain file hashes the uncompressed page, an encrypted one the payload as stored (docs/ENCRYPTION.md).
        ReadOnlySpan<byte> hashedPayload = page;
        if (pageHeader.HasSizePrefix)
        {
            ReadExactly(head[LtxConstants.PageHeaderSize..], "page size");
            uint size = BinaryPrimitives.ReadUInt32BigEndian(head[LtxConstants.PageHeaderSize..]);
            uint tag = _cipher is null ? 0u : LtxConstants.PageTagSize;
            if (size <= tag || size > (uint)Lz4Block.MaxCompressedLength((int)_header.PageSize) + tag)
            {
                LtxThrow.Format($"invalid compressed size {size} for page {pageHeader.Pgno} at offset {offset}");
            }
            Span<byte> payload = scratch.AsSpan(0, (int)size);
            ReadExactly(payload, "page data");
            if (_cipher is { } cipher)
            {
                int opened = cipher.Open(pageHeader.Pgno, payload, _opened);
                Lz4Block.DecompressPage(_opened.AsSpan(0, opened), page, pageHeader.Pgno);
                hashedPayload = payload;
            }
            else
            {
                Lz4Block.DecompressPage(payload, page, pageHeader.Pgno);
            }
            hashed += LtxConstants.PageSizePrefixSize;
        }
        else if (_cipher is not null)
        {
            LtxThrow.Format($"page {pageHeader.Pgno} of an encrypted file is not size-prefixed");
        }
        else
        {
            int frameLength = ReadLegacyFrame(scratch, pageHeader.Pgno);
            Lz4Block.DecodeFrame(scratch.AsSpan(0, frameLength), page, pageHeader.Pgno);
        }
        Crc = Crc64Iso.Update(Crc, head[..hashed]);
        Crc = Crc64Iso.Update(Crc, hashedPayload);
        HashedLength += hashed + hashedPayload.Length;
        if (_trackDatabaseChecksum)
        {
            _databaseChecksum.Add(PageChecksum.Compute(pageHeader.Pgno, page));
        }
        entry = new LtxPageIndexEntry(pageHeader.Pgno, offset, _source.Position - offset);
        FrameHash = LtxPageIndexReader.HashEntry(FrameHash, entry.Pgno, (ulong)entry.Offset, (ulong)entry.Size);
        FrameCount++;
        PreviousPgno = pageHeader.Pgno;
        return true;
    }

    /// <summary>
    /// Decodes one frame held whole in <paramref name="frame"/> (an index entry's offset and size, fetched by a
    /// ranged read) into <paramref name="page"/>, opened with <paramref name="cipher"/> for an encrypted file; see
    /// <see cref="LtxDecoder.DecodePageData(ReadOnlySpan{byte}, Span{byte}, LtxFileCipher?)"/>.
    /// </summary>
    public static LtxPageHeader DecodeFrame(ReadOnlySpan<byte> frame, Span<byte> page, LtxFileCipher? cipher)
    {
        if (frame.Length < LtxConstants.PageHeaderSize)
        {
            LtxThrow.Format($"short page frame: {frame.Length} bytes");
        }
        LtxPageHeader header = LtxPageHeader.Read(frame);
        header.Validate();
        if (!header.HasSizePrefix && cipher is not null)
        {
            LtxThrow.Format($"page {header.Pgno} of an encrypted file is not size-prefixed");
        }
        ReadOnlySpan<byte> payload = frame[LtxConstants.PageHeaderSize..];
        int consumed;
        if (header.HasSizePrefix)
        {
            if (payload.Length < LtxConstants.PageSizePrefixSize)
            {
                LtxThrow.Format($"truncated page frame for page {header.Pgno}");
            }
            uint size = BinaryPrimitives.ReadUInt32BigEndian(payload);
            if (size > (uint)(payload.Length - LtxConstants.PageSizePrefixSize))
            {
                LtxThrow.Format($"truncated page frame for page {header.Pgno}: {size} bytes announced, {payload.Length - LtxConstants.PageSizePrefixSize} present");
            }
            ReadOnlySpan<byte> stored = payload.Slice(LtxConstants.PageSizePrefixSize, (int)size);
            if (cipher is null)
            {
                Lz4Block.DecompressPage(stored, page, header.Pgno);
            }
            else
            {
                byte[] opened = ArrayPool<byte>.Shared.Rent(stored.Length);
                try
                {
                    int length = cipher.Open(header.Pgno, stored, opened);
                    Lz4Block.DecompressPage(opened.AsSpan(0, length), page, header.Pgno);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(opened);
                }
            }
            consumed = LtxConstants.PageSizePrefixSize + (int)size;
        }
        else
        {
            consumed = Lz4Block.DecodeFrame(payload, page, header.Pgno);
        }
        if (consumed != payload.Length)
        {
            LtxThrow.Format($"page frame for page {header.Pgno} has {payload.Length - consumed} bytes past its payload");
        }
        return header;
    }

    /// <summary>Fills <paramref name="destination"/> from the stream; a short stream is a truncated file.</summary>
    public void ReadExactly(Span<byte> destination, string what)
    {
        if (!_source.TryReadExactly(destination))
        {
            LtxThrow.Format($"unexpected end of file reading {what} at offset {_source.Position}");
        }
    }

    /// <summary>Returns the scratch buffer. Idempotent.</summary>
    public void Dispose()
    {
        if (_scratch is not null)
        {
            ArrayPool<byte>.Shared.Return(_scratch);
            _scratch = null;
        }
        if (_opened is not null)
        {
            ArrayPool<byte>.Shared.Return(_opened);
            _opened = null;
        }
        _cipher?.Dispose();
        _cipher = null;
    }

    private void ValidatePageHeader(LtxPageHeader header)
    {
        if (header.Pgno == 0)
        {
            LtxThrow.Format($"page number required (page flags 0x{header.Flags:x4})");
        }
        if ((header.Flags & ~LtxConstants.PageHeaderFlagMask) != 0)
        {
            LtxThrow.Format(FrameCount == 0
                ? $"invalid page header flags: 0x{header.Flags:x4} (not an ltx v3 file; ltx v1/v2 files are not supported)"
                : $"invalid page header flags: 0x{header.Flags:x4}");
        }
        LtxPageRules.CheckPlacement(_header, LockPgno, PreviousPgno, header.Pgno);
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
            LtxThrow.Format($"lz4 frame for page {pgno} is larger than a page can compress to");
        }
    }
}
