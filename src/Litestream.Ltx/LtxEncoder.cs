using System.Buffers;
using System.Buffers.Binary;
using Litestream.Ltx.Checksums;
using Litestream.Ltx.Compression;

namespace Litestream.Ltx;

/// <summary>
/// Writes one LTX v3 file the way current upstream does (ltx v0.5.2 <c>Encoder</c>): header, pages as
/// size-prefixed LZ4 blocks with page flag 0x0001, end marker, page index, trailer. The file checksum
/// covers header, page headers, size prefixes, uncompressed pages, end marker, index and the post-apply
/// checksum (LTX.md §5.3). Buffers are rented once per encoder; no allocation per page.
/// </summary>
public sealed class LtxEncoder : IDisposable
{
    private enum State { Header, Pages, Closed }

    private readonly Stream _output;
    private readonly bool _leaveOpen;
    private PageIndexSpool? _index;
    private int _pageCount;
    private State _state = State.Header;
    private LtxHeader _header;
    private byte[]? _frame;
    private byte[]? _compressed;
    private LtxFileCipher? _cipher;
    private ulong _crc;
    private uint _prevPgno;
    private uint _lockPgno;

    /// <summary>Creates an encoder writing to <paramref name="output"/> (any writable stream; no seeking).</summary>
    public LtxEncoder(Stream output, bool leaveOpen = false)
    {
        _output = output ?? throw new ArgumentNullException(nameof(output));
        _leaveOpen = leaveOpen;
    }

    /// <summary>
    /// Encrypt the page payloads with this key (docs/ENCRYPTION.md): the header gets the encrypted flag, a fresh
    /// random salt and the key id, whatever the header passed to <see cref="EncodeHeader"/> said.
    /// </summary>
    public LtxPageCipher? Cipher { get; init; }

    /// <summary>The header written by <see cref="EncodeHeader"/>.</summary>
    public LtxHeader Header => _header;

    /// <summary>Bytes written to the output so far.</summary>
    public long BytesWritten { get; private set; }

    /// <summary>Number of pages encoded so far.</summary>
    public int PageCount => _pageCount;

    /// <summary>Validates and writes the header; must be called first, once.</summary>
    public void EncodeHeader(in LtxHeader header)
    {
        RequireState(State.Header, "encode header");
        LtxHeader written = Cipher is { } key
            ? header with { Flags = header.Flags | LtxConstants.HeaderFlagEncrypted, Salt = LtxPageCipher.NewSalt(), KeyId = key.KeyId }
            : header with { Flags = header.Flags & ~LtxConstants.HeaderFlagEncrypted, Salt = 0, KeyId = 0 };
        written.Validate();
        _header = written;
        _lockPgno = LtxConstants.LockPgno(written.PageSize);
        int maxPayload = Lz4Block.MaxCompressedLength((int)written.PageSize);
        _frame = ArrayPool<byte>.Shared.Rent(LtxConstants.PageHeaderSize + LtxConstants.PageSizePrefixSize + maxPayload + LtxConstants.PageTagSize);
        if (Cipher is not null)
        {
            _cipher = Cipher.ForFile(written);
            _compressed = ArrayPool<byte>.Shared.Rent(maxPayload);
        }
        _index = new PageIndexSpool(SpoolDirectory());
        Span<byte> bytes = stackalloc byte[LtxConstants.HeaderSize];
        written.Write(bytes);
        Write(bytes, hash: true);
        _state = State.Pages;
    }

    /// <summary>
    /// Compresses and writes one page. Pages come in ascending order; a snapshot (MinTxid 1) must hold
    /// every page from 1 to Commit except the lock page; no page may exceed Commit or be the lock page.
    /// </summary>
    public void EncodePage(uint pgno, ReadOnlySpan<byte> page)
    {
        RequireState(State.Pages, "encode page");
        new LtxPageHeader(pgno, LtxConstants.PageHeaderFlagSize).Validate();
        if (page.Length != _header.PageSize)
        {
            LtxThrow.Format($"invalid page buffer size: {page.Length}, expecting {_header.PageSize}");
        }
        if (pgno == _lockPgno)
        {
            LtxThrow.Format($"cannot encode lock page: pgno={pgno}");
        }
        if (pgno > _header.Commit)
        {
            LtxThrow.Format($"page number {pgno} out-of-bounds for commit size {_header.Commit}");
        }
        LtxPageRules.CheckOrder(_header.IsSnapshot, _prevPgno, pgno, _lockPgno);

        Span<byte> frame = _frame;
        new LtxPageHeader(pgno, LtxConstants.PageHeaderFlagSize).Write(frame);
        int prefixed = LtxConstants.PageHeaderSize + LtxConstants.PageSizePrefixSize;
        int payload;
        if (_cipher is { } cipher)
        {
            int compressed = Cipher!.CompressPages ? Lz4Block.Compress(page, _compressed!) : Lz4Block.StoreLiterals(page, _compressed!);
            cipher.Seal(pgno, _compressed!.AsSpan(0, compressed), frame[prefixed..]);
            payload = compressed + LtxConstants.PageTagSize;
        }
        else
        {
            payload = Lz4Block.Compress(page, frame[prefixed..]);
        }
        BinaryPrimitives.WriteUInt32BigEndian(frame[LtxConstants.PageHeaderSize..], (uint)payload);
        int frameLength = prefixed + payload;

        _index!.Add(pgno, BytesWritten, frameLength);
        _pageCount++;
        // A plain file's checksum covers the stored header and size prefix but the uncompressed page; an
        // encrypted file's covers the frame as stored, so transport damage shows without the key.
        _crc = Crc64Iso.Update(_crc, frame[..(_cipher is null ? prefixed : frameLength)]);
        if (_cipher is null)
        {
            _crc = Crc64Iso.Update(_crc, page);
        }
        Write(frame[..frameLength], hash: false);
        _prevPgno = pgno;
    }

    /// <summary>
    /// Writes the end marker, page index and trailer and returns the trailer. With NoChecksum the
    /// post-apply checksum must be 0; otherwise it is required (and exactly the flag for an empty database).
    /// </summary>
    public LtxTrailer Close(ulong postApplyChecksum)
    {
        RequireState(State.Pages, "close");
        if (_header.IsSnapshot)
        {
            LtxPageRules.CheckSnapshotEnd(_header, _lockPgno, _prevPgno);
        }
        if (!_header.NoChecksum && _header.Commit == 0 && postApplyChecksum != LtxConstants.ChecksumFlag)
        {
            LtxThrow.Format("post-apply checksum must be empty for zero-length database");
        }

        Span<byte> endMarker = stackalloc byte[LtxConstants.PageHeaderSize];
        endMarker.Clear();
        Write(endMarker, hash: true);

        // The page index (LTX.md §4): the spooled varints, a 0 terminator, their length with it as a big-endian u64.
        _index!.CopyTo(bytes => Write(bytes, hash: true));
        Span<byte> indexEnd = stackalloc byte[1 + LtxConstants.PageIndexSizeFieldSize];
        indexEnd[0] = 0;
        BinaryPrimitives.WriteUInt64BigEndian(indexEnd[1..], (ulong)(_index.Length + 1));
        Write(indexEnd, hash: true);

        Span<byte> trailer = stackalloc byte[LtxConstants.TrailerSize];
        BinaryPrimitives.WriteUInt64BigEndian(trailer, postApplyChecksum);
        _crc = Crc64Iso.Update(_crc, trailer[..8]);
        var result = new LtxTrailer(postApplyChecksum, LtxConstants.ChecksumFlag | _crc);
        result.Validate(_header.NoChecksum);
        result.Write(trailer);
        Write(trailer, hash: false);
        _output.Flush();
        _state = State.Closed;
        ReturnBuffers();
        return result;
    }

    /// <summary>Releases the rented buffers (and the stream unless leaveOpen). Idempotent.</summary>
    public void Dispose()
    {
        _state = State.Closed;
        ReturnBuffers();
        if (!_leaveOpen)
        {
            _output.Dispose();
        }
    }

    private void Write(ReadOnlySpan<byte> bytes, bool hash)
    {
        if (hash)
        {
            _crc = Crc64Iso.Update(_crc, bytes);
        }
        _output.Write(bytes);
        BytesWritten += bytes.Length;
    }

    private void RequireState(State expected, string action)
    {
        if (_state != expected)
        {
            throw new InvalidOperationException(_state == State.Closed
                ? $"cannot {action}: encoder closed"
                : $"cannot {action}: expected {expected}, encoder is at {_state}");
        }
    }

    private void ReturnBuffers()
    {
        if (_frame is not null)
        {
            ArrayPool<byte>.Shared.Return(_frame);
            _frame = null;
        }
        if (_compressed is not null)
        {
            ArrayPool<byte>.Shared.Return(_compressed);
            _compressed = null;
        }
        _cipher?.Dispose();
        _cipher = null;
        _index?.Dispose();
        _index = null;
    }

    /// <summary>The output file's folder when it has one, else the temporary folder.</summary>
    private string SpoolDirectory()
        => _output is FileStream { Name: { } name } && Path.IsPathFullyQualified(name) ? Path.GetDirectoryName(name)! : Path.GetTempPath();
}
