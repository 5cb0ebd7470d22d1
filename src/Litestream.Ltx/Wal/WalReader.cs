using System.Buffers;
using Litestream.Ltx.Checksums;
using Microsoft.Win32.SafeHandles;

namespace Litestream.Ltx.Wal;

/// <summary>
/// The frame just before a resume offset could not be read with the expected salts: the WAL was
/// rewritten or truncated since the offset was recorded (upstream <c>PrevFrameMismatchError</c>).
/// </summary>
public sealed class WalPrevFrameMismatchException : IOException
{
    /// <summary>Creates the exception; the message starts with "prev frame mismatch: " as upstream's.</summary>
    public WalPrevFrameMismatchException(string reason) : base($"prev frame mismatch: {reason}")
    {
    }
}

/// <summary>
/// Committed WAL content (upstream <c>WALReader.PageMap</c>): for every page, the offset of the frame
/// holding its newest committed copy; the database size after the last commit; and the end of the
/// highest committed frame.
/// </summary>
public sealed class WalPageMap
{
    internal WalPageMap(Dictionary<uint, long> pages, uint commit, long maxOffset, bool limited)
    {
        Pages = pages;
        Commit = commit;
        MaxOffset = maxOffset;
        Limited = limited;
    }

    /// <summary>A map with no committed frames.</summary>
    public static WalPageMap Empty { get; } = new(new Dictionary<uint, long>(), 0, 0, false);

    /// <summary>Page number → WAL offset of the frame (its 24-byte header) with the newest committed copy.</summary>
    public IReadOnlyDictionary<uint, long> Pages { get; }

    /// <summary>Database size in pages after the last commit read; 0 when no committed page remains.</summary>
    public uint Commit { get; }

    /// <summary>
    /// Offset just past the highest committed frame in <see cref="Pages"/> (the end of the last commit
    /// frame); 0 when no committed page remains.
    /// </summary>
    public long MaxOffset { get; }

    /// <summary>True when reading stopped at a commit boundary because the byte limit was reached (more may follow).</summary>
    public bool Limited { get; }
}

/// <summary>
/// Reads a SQLite WAL file with positional reads (upstream <c>WALReader</c>). Iteration stops — returns
/// false, never throws — at the first frame that is short, carries other salts, or breaks the running
/// checksum: that is the end of the valid WAL. Frames are returned whether or not their transaction
/// committed; <see cref="ReadPageMap"/> keeps committed ones only.
/// </summary>
/// <remarks>
/// Frames are read ahead in runs of about 128 KiB, one <c>pread</c> per run instead of one per frame: a busy
/// writer's second of WAL is tens of thousands of frames, and the capture that reads them may run under the
/// replicator's write barrier. A frame that ends iteration is read again from the file on the next call.
/// </remarks>
public sealed class WalReader : IDisposable
{
    private const int ReadAheadBytes = 128 * 1024;

    private readonly SafeFileHandle _handle;
    private readonly bool _ownsHandle;
    private byte[]? _buffer;
    private long _bufferOffset;
    private int _bufferLength;
    private uint _salt1;
    private uint _salt2;
    private uint _checksum1;
    private uint _checksum2;
    private uint _commitChecksum1;
    private uint _commitChecksum2;
    private long _frameIndex;

    private WalReader(SafeFileHandle handle, bool ownsHandle, WalHeader header)
    {
        _handle = handle;
        _ownsHandle = ownsHandle;
        Header = header;
        _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(FrameSize, ReadAheadBytes / FrameSize * FrameSize));
        _salt1 = header.Salt1;
        _salt2 = header.Salt2;
        _checksum1 = _commitChecksum1 = header.Checksum1;
        _checksum2 = _commitChecksum2 = header.Checksum2;
    }

    /// <summary>The WAL header.</summary>
    public WalHeader Header { get; }

    /// <summary>Page size from the WAL header, in bytes.</summary>
    public uint PageSize => Header.PageSize;

    /// <summary>Size of one frame in bytes: the 24-byte frame header plus a page.</summary>
    public int FrameSize => WalFrameHeader.Size + (int)Header.PageSize;

    /// <summary>Byte offset of the last frame read (its header); 0 before any frame was read (upstream <c>Offset</c>).</summary>
    public long Offset => _frameIndex == 0 ? 0 : WalHeader.Size + ((_frameIndex - 1) * FrameSize);

    /// <summary>Byte offset where the next frame would start.</summary>
    public long NextOffset => WalHeader.Size + (_frameIndex * FrameSize);

    /// <summary>The salts every accepted frame must carry: the header's, or those given to <see cref="OpenAt"/>.</summary>
    public (uint Salt1, uint Salt2) Salts => (_salt1, _salt2);

    /// <summary>The running WAL checksum after the last frame read (upstream <c>Checksum</c>).</summary>
    public (uint Checksum1, uint Checksum2) Checksum => (_checksum1, _checksum2);

    /// <summary>The running WAL checksum after the last commit frame read by <see cref="ReadPageMap"/> (upstream <c>CommitChecksum</c>).</summary>
    public (uint Checksum1, uint Checksum2) CommitChecksum => (_commitChecksum1, _commitChecksum2);

    /// <summary>
    /// Opens a WAL and checks its header in upstream's order: a file shorter than 32 bytes is no WAL
    /// (null); a bad magic throws <see cref="InvalidDataException"/> ("invalid wal header magic: …"); a
    /// header checksum mismatch (a torn header write) is no WAL (null); a version other than 3007000
    /// throws ("unsupported wal version: …"), as does a page size SQLite cannot have.
    /// </summary>
    public static WalReader? Open(SafeFileHandle handle, bool ownsHandle = false)
    {
        WalHeader? header = ReadHeader(handle);
        return header is null ? null : new WalReader(handle, ownsHandle, header.Value);
    }

    /// <summary>
    /// Opens a WAL to continue at <paramref name="offset"/> (a frame boundary after the first frame) with
    /// the salts the last sync saw (upstream <c>NewWALReaderWithOffset</c>). The salts are taken from the
    /// caller, not the header, in case the start of the file was rewritten. The whole frame before the
    /// offset must be present and carry those salts; its stored checksum seeds the chain. Otherwise
    /// <see cref="WalPrevFrameMismatchException"/>. Returns null when the file has no valid WAL header.
    /// </summary>
    public static WalReader? OpenAt(SafeFileHandle handle, long offset, uint salt1, uint salt2, bool ownsHandle = false)
    {
        if (offset <= WalHeader.Size)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"offset ({offset}) must be greater than the wal header size ({WalHeader.Size})");
        }
        WalReader? reader = Open(handle, ownsHandle);
        if (reader is null)
        {
            return null;
        }
        try
        {
            long frameSize = reader.FrameSize;
            if ((offset - WalHeader.Size) % frameSize != 0)
            {
                throw new ArgumentException($"unaligned wal offset {offset} for page size {reader.PageSize}", nameof(offset));
            }
            reader._salt1 = salt1;
            reader._salt2 = salt2;
            long prevOffset = offset - frameSize;
            ReadOnlySpan<byte> prev = reader.FrameAt(prevOffset); // reads ahead into the frames that follow
            if (prev.IsEmpty)
            {
                throw new WalPrevFrameMismatchException($"frame at offset {prevOffset} is incomplete");
            }
            WalFrameHeader.TryRead(prev, out WalFrameHeader prevHeader);
            if (prevHeader.Salt1 != salt1 || prevHeader.Salt2 != salt2)
            {
                throw new WalPrevFrameMismatchException(
                    $"frame at offset {prevOffset} has salts {prevHeader.Salt1:x8}/{prevHeader.Salt2:x8}, expected {salt1:x8}/{salt2:x8}");
            }
            reader._checksum1 = reader._commitChecksum1 = prevHeader.Checksum1;
            reader._checksum2 = reader._commitChecksum2 = prevHeader.Checksum2;
            reader._frameIndex = (offset - WalHeader.Size) / frameSize;
            return reader;
        }
        catch
        {
            reader.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Reads the next frame into <paramref name="page"/> (exactly PageSize bytes, else
    /// <see cref="ArgumentException"/>). False at the end of the valid WAL: end of file, a short frame,
    /// a salt mismatch or a checksum break; the reader then stays where it was.
    /// </summary>
    public bool TryReadFrame(Span<byte> page, out WalFrameHeader frame)
    {
        if (page.Length != PageSize)
        {
            throw new ArgumentException($"buffer size ({page.Length}) must match page size ({PageSize})", nameof(page));
        }
        if (!TryReadNextFrame(out frame))
        {
            return false;
        }
        FrameAt(Offset)[WalFrameHeader.Size..].CopyTo(page);
        return true;
    }

    /// <summary>
    /// Reads frames to the end of the valid WAL and maps each page to its newest committed frame
    /// (upstream <c>pageMap</c>). Frames of an unfinished transaction are ignored; pages past the final
    /// commit size are dropped (the database shrank). With a positive <paramref name="maxBytes"/>, stops at
    /// the first commit boundary at or past that many bytes from where this call started
    /// (<see cref="WalPageMap.Limited"/>); a later call continues from there. 0 means no limit.
    /// </summary>
    public WalPageMap ReadPageMap(long maxBytes = 0)
    {
        var committed = new Dictionary<uint, long>();
        var pending = new Dictionary<uint, long>();
        long start = NextOffset;
        uint commit = 0;
        bool limited = false;
        while (TryReadNextFrame(out WalFrameHeader frame))
        {
            // A page joins the map only once its transaction is known to have committed.
            pending[frame.Pgno] = Offset;
            if (!frame.IsCommit)
            {
                continue;
            }
            _commitChecksum1 = _checksum1;
            _commitChecksum2 = _checksum2;
            foreach (KeyValuePair<uint, long> kv in pending)
            {
                committed[kv.Key] = kv.Value;
            }
            pending.Clear();
            commit = frame.Commit;
            if (maxBytes > 0 && Offset + FrameSize - start >= maxBytes)
            {
                limited = true;
                break;
            }
        }
        long end = 0;
        foreach (KeyValuePair<uint, long> kv in committed)
        {
            if (kv.Key > commit)
            {
                committed.Remove(kv.Key);
            }
            else if (kv.Value > end)
            {
                end = kv.Value;
            }
        }
        if (committed.Count == 0)
        {
            return new WalPageMap(committed, 0, 0, limited);
        }
        return new WalPageMap(committed, commit, end + FrameSize, limited);
    }

    /// <summary>
    /// Distinct (salt1, salt2) pairs of every frame header from the start of the file, ignoring
    /// checksums, in file order, stopping after the first frame that carries <paramref name="until"/>
    /// (upstream <c>FrameSaltsUntil</c>).
    /// </summary>
    public IReadOnlyList<(uint Salt1, uint Salt2)> FrameSaltsUntil((uint Salt1, uint Salt2) until)
    {
        var salts = new List<(uint, uint)>();
        Span<byte> header = stackalloc byte[WalFrameHeader.Size];
        for (long offset = WalHeader.Size; ; offset += FrameSize)
        {
            if (RandomAccess.Read(_handle, header, offset) != header.Length)
            {
                break;
            }
            WalFrameHeader.TryRead(header, out WalFrameHeader frame);
            (uint, uint) salt = (frame.Salt1, frame.Salt2);
            if (!salts.Contains(salt))
            {
                salts.Add(salt);
            }
            if (salt == until)
            {
                break;
            }
        }
        return salts;
    }

    /// <summary>Returns the frame buffer and closes the handle if owned. Idempotent.</summary>
    public void Dispose()
    {
        if (_buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = null;
        }
        if (_ownsHandle)
        {
            _handle.Dispose();
        }
    }

    /// <summary>Reads and verifies the next frame; advances only on success.</summary>
    private bool TryReadNextFrame(out WalFrameHeader frame)
    {
        frame = default;
        ReadOnlySpan<byte> bytes = FrameAt(NextOffset);
        if (bytes.IsEmpty)
        {
            return false;
        }
        WalFrameHeader.TryRead(bytes, out frame);
        if (frame.Salt1 != _salt1 || frame.Salt2 != _salt2)
        {
            _bufferLength = 0; // SQLite may be writing it right now: read it afresh next time
            return false;
        }
        // SQLite file format §4.3: the frame checksum continues the chain over the first 8 bytes of the
        // frame header and the page.
        bool bigEndian = Header.BigEndianChecksum;
        (uint s0, uint s1) = WalChecksum.Compute(bigEndian, _checksum1, _checksum2, bytes[..WalFrameHeader.Salt1Offset]);
        (s0, s1) = WalChecksum.Compute(bigEndian, s0, s1, bytes[WalFrameHeader.Size..]);
        if (s0 != frame.Checksum1 || s1 != frame.Checksum2)
        {
            _bufferLength = 0;
            return false;
        }
        _checksum1 = s0;
        _checksum2 = s1;
        _frameIndex++;
        return true;
    }

    /// <summary>The whole frame at <paramref name="offset"/> from the read-ahead run, reading a new run from there when it is not in it; empty when the file ends first.</summary>
    private ReadOnlySpan<byte> FrameAt(long offset)
    {
        byte[] buffer = _buffer ?? throw new ObjectDisposedException(nameof(WalReader));
        long start = offset - _bufferOffset;
        if (start < 0 || start + FrameSize > _bufferLength)
        {
            _bufferOffset = offset;
            _bufferLength = RandomAccess.Read(_handle, buffer, offset);
            start = 0;
            if (_bufferLength < FrameSize)
            {
                _bufferLength = 0;
                return default;
            }
        }
        return buffer.AsSpan((int)start, FrameSize);
    }

    private static WalHeader? ReadHeader(SafeFileHandle handle)
    {
        Span<byte> bytes = stackalloc byte[WalHeader.Size];
        if (RandomAccess.Read(handle, bytes, 0) != bytes.Length)
        {
            return null;
        }
        WalHeader.TryRead(bytes, out WalHeader header);
        if (header.Magic != WalHeader.MagicLittleEndian && header.Magic != WalHeader.MagicBigEndian)
        {
            throw new InvalidDataException($"invalid wal header magic: {header.Magic:x}");
        }
        // A checksum mismatch means a torn header write during a WAL reset: no valid WAL, not an error.
        (uint s0, uint s1) = WalChecksum.Compute(header.BigEndianChecksum, 0, 0, bytes[..WalHeader.ChecksumOffset]);
        if (s0 != header.Checksum1 || s1 != header.Checksum2)
        {
            return null;
        }
        if (header.Version != WalHeader.SupportedVersion)
        {
            throw new InvalidDataException($"unsupported wal version: {header.Version}");
        }
        // Not checked upstream; frame offsets are computed from it, so an impossible value must not pass.
        if (!LtxConstants.IsValidPageSize(header.PageSize))
        {
            throw new InvalidDataException($"invalid wal page size: {header.PageSize}");
        }
        return header;
    }
}
