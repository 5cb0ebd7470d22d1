using System.Buffers;
using Litestream.Ltx.Checksums;
using Microsoft.Win32.SafeHandles;

namespace Litestream.Ltx.Wal;

/// <summary>The previous frame before a resume offset does not carry the expected salts: the WAL was rewritten.</summary>
public sealed class WalPrevFrameMismatchException : IOException
{
    /// <summary>Creates the exception.</summary>
    public WalPrevFrameMismatchException(string message) : base(message)
    {
    }
}

/// <summary>
/// Committed WAL content: for every page, the offset of the frame holding its newest committed copy;
/// the database size after the last commit; and the end offset of the last committed frame.
/// </summary>
public sealed class WalPageMap
{
    internal WalPageMap(Dictionary<uint, long> pages, uint commit, long maxOffset)
    {
        Pages = pages;
        Commit = commit;
        MaxOffset = maxOffset;
    }

    /// <summary>A map with no committed frames.</summary>
    public static WalPageMap Empty { get; } = new(new Dictionary<uint, long>(), 0, 0);

    /// <summary>Page number → WAL offset of the frame (its 24-byte header) with the newest committed copy.</summary>
    public IReadOnlyDictionary<uint, long> Pages { get; }

    /// <summary>Database size in pages after the last commit read; 0 when no commit was read.</summary>
    public uint Commit { get; }

    /// <summary>Offset just past the last committed frame; 0 when no commit was read.</summary>
    public long MaxOffset { get; }
}

/// <summary>
/// Reads a SQLite WAL file with positional reads (upstream <c>WALReader</c>). Iteration stops — returns
/// false, never throws — at the first frame that is short, carries other salts, or breaks the running
/// checksum: that is the end of the valid WAL.
/// </summary>
public sealed class WalReader : IDisposable
{
    private readonly SafeFileHandle _handle;
    private readonly bool _ownsHandle;
    private byte[]? _frame;
    private uint _checksum1;
    private uint _checksum2;
    private long _frameIndex;

    private WalReader(SafeFileHandle handle, bool ownsHandle, WalHeader header)
    {
        _handle = handle;
        _ownsHandle = ownsHandle;
        Header = header;
        _frame = ArrayPool<byte>.Shared.Rent(FrameSize);
        _checksum1 = header.Checksum1;
        _checksum2 = header.Checksum2;
    }

    /// <summary>The WAL header.</summary>
    public WalHeader Header { get; }

    /// <summary>Page size from the WAL header.</summary>
    public uint PageSize => Header.PageSize;

    /// <summary>Size of one frame: header plus page.</summary>
    public int FrameSize => WalFrameHeader.Size + (int)Header.PageSize;

    /// <summary>Offset of the last frame read (its header); 0 before any frame was read (upstream <c>Offset</c>).</summary>
    public long Offset => _frameIndex == 0 ? 0 : WalHeader.Size + ((_frameIndex - 1) * FrameSize);

    /// <summary>Offset where the next frame would start.</summary>
    public long NextOffset => WalHeader.Size + (_frameIndex * FrameSize);

    /// <summary>
    /// Opens a WAL and validates its header. Returns null when the file is shorter than a header or the
    /// header checksum does not match (no valid WAL); throws <see cref="InvalidDataException"/> for a bad
    /// magic or version.
    /// </summary>
    public static WalReader? Open(SafeFileHandle handle, bool ownsHandle = false)
    {
        WalHeader? header = ReadHeader(handle);
        return header is null ? null : new WalReader(handle, ownsHandle, header.Value);
    }

    /// <summary>
    /// Opens a WAL to continue at <paramref name="offset"/> (a frame boundary after the first frame) with
    /// the salts the last sync saw. The frame just before the offset must carry those salts; its checksum
    /// seeds the chain. Otherwise <see cref="WalPrevFrameMismatchException"/>.
    /// </summary>
    public static WalReader? OpenAt(SafeFileHandle handle, long offset, uint salt1, uint salt2, bool ownsHandle = false)
    {
        if (offset <= WalHeader.Size)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"offset ({offset}) must be greater than the wal header size");
        }
        WalReader? reader = Open(handle, ownsHandle);
        if (reader is null)
        {
            return null;
        }
        if (reader.Header.Salt1 != salt1 || reader.Header.Salt2 != salt2)
        {
            reader.Dispose();
            throw new WalPrevFrameMismatchException($"wal header salt mismatch: {reader.Header.Salt1:x8}/{reader.Header.Salt2:x8}, expected {salt1:x8}/{salt2:x8}");
        }
        long frameSize = reader.FrameSize;
        if ((offset - WalHeader.Size) % frameSize != 0)
        {
            reader.Dispose();
            throw new ArgumentOutOfRangeException(nameof(offset), $"offset ({offset}) is not on a frame boundary");
        }
        Span<byte> prev = stackalloc byte[WalFrameHeader.Size];
        if (RandomAccess.Read(handle, prev, offset - frameSize) != prev.Length
            || !WalFrameHeader.TryRead(prev, out WalFrameHeader prevHeader)
            || prevHeader.Salt1 != salt1 || prevHeader.Salt2 != salt2)
        {
            reader.Dispose();
            throw new WalPrevFrameMismatchException($"previous wal frame at offset {offset - frameSize} does not match salts {salt1:x8}/{salt2:x8}");
        }
        reader._checksum1 = prevHeader.Checksum1;
        reader._checksum2 = prevHeader.Checksum2;
        reader._frameIndex = (offset - WalHeader.Size) / frameSize;
        return reader;
    }

    /// <summary>
    /// Reads the next frame into <paramref name="page"/> (PageSize bytes). False at the end of the valid
    /// WAL: end of file, a short frame, a salt mismatch or a checksum break.
    /// </summary>
    public bool TryReadFrame(Span<byte> page, out WalFrameHeader frame)
    {
        frame = default;
        byte[] buffer = _frame ?? throw new ObjectDisposedException(nameof(WalReader));
        Span<byte> bytes = buffer.AsSpan(0, FrameSize);
        if (RandomAccess.Read(_handle, bytes, NextOffset) != bytes.Length)
        {
            return false;
        }
        WalFrameHeader.TryRead(bytes, out frame);
        if (frame.Salt1 != Header.Salt1 || frame.Salt2 != Header.Salt2)
        {
            return false;
        }
        // SQLite file format §4.3: the frame checksum covers the first 8 header bytes and the page.
        (uint s0, uint s1) = WalChecksum.Compute(Header.BigEndianChecksum, _checksum1, _checksum2, bytes[..8]);
        (s0, s1) = WalChecksum.Compute(Header.BigEndianChecksum, s0, s1, bytes[WalFrameHeader.Size..]);
        if (s0 != frame.Checksum1 || s1 != frame.Checksum2)
        {
            return false;
        }
        _checksum1 = s0;
        _checksum2 = s1;
        bytes[WalFrameHeader.Size..].CopyTo(page);
        _frameIndex++;
        return true;
    }

    /// <summary>
    /// Reads frames to the end of the valid WAL and maps each page to its newest committed frame. Frames
    /// of an unfinished transaction are ignored; pages past the final commit size are dropped. Stops at
    /// the first commit boundary at or past <paramref name="maxBytes"/> bytes read.
    /// </summary>
    public WalPageMap ReadPageMap(long maxBytes = long.MaxValue)
    {
        var committed = new Dictionary<uint, long>();
        var pending = new Dictionary<uint, long>();
        byte[] page = ArrayPool<byte>.Shared.Rent((int)PageSize);
        long start = NextOffset;
        uint commit = 0;
        long maxOffset = 0;
        try
        {
            while (TryReadFrame(page.AsSpan(0, (int)PageSize), out WalFrameHeader frame))
            {
                pending[frame.Pgno] = Offset;
                if (!frame.IsCommit)
                {
                    continue;
                }
                foreach (KeyValuePair<uint, long> kv in pending)
                {
                    committed[kv.Key] = kv.Value;
                }
                pending.Clear();
                commit = frame.Commit;
                maxOffset = Offset + FrameSize;
                if (maxOffset - start >= maxBytes)
                {
                    break;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(page);
        }
        foreach (uint pgno in committed.Keys.Where(p => p > commit).ToList())
        {
            committed.Remove(pgno);
        }
        return new WalPageMap(committed, commit, maxOffset);
    }

    /// <summary>
    /// Distinct (salt1, salt2) pairs of every frame from the start of the file, ignoring checksums,
    /// stopping after the first frame that carries <paramref name="until"/> (upstream <c>FrameSaltsUntil</c>).
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
        if (_frame is not null)
        {
            ArrayPool<byte>.Shared.Return(_frame);
            _frame = null;
        }
        if (_ownsHandle)
        {
            _handle.Dispose();
        }
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
        if (header.Version != WalHeader.SupportedVersion)
        {
            throw new InvalidDataException($"unsupported wal version: {header.Version}");
        }
        if (!LtxConstants.IsValidPageSize(header.PageSize))
        {
            throw new InvalidDataException($"invalid wal page size: {header.PageSize}");
        }
        (uint s0, uint s1) = WalChecksum.Compute(header.BigEndianChecksum, 0, 0, bytes[..24]);
        return s0 == header.Checksum1 && s1 == header.Checksum2 ? header : null;
    }
}
