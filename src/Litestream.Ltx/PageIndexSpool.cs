using System.Buffers;

namespace Litestream.Ltx;

/// <summary>
/// The encoder's page index while pages are written: entries are stored already encoded (the uvarint triples of
/// LTX.md §4, 5-15 bytes a page instead of a 24-byte struct in a doubling list), in a buffer of at most
/// <see cref="MemoryLimit"/>, then in a temporary file beside the output. A snapshot of a 20 GB database has
/// 5 million pages: its index held in memory grew the replicator by ~11 MB per GB (issue 22); spooled, memory
/// stays flat whatever the database's size.
/// </summary>
internal sealed class PageIndexSpool : IDisposable
{
    /// <summary>Bytes kept in memory before the rest goes to the file (~100 000 pages, a 400 MB database).</summary>
    public const int MemoryLimit = 1 << 20;

    private readonly string _directory;
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(4096);
    private int _buffered;
    private FileStream? _file;

    /// <param name="directory">Where the file goes if one is needed: the output's folder, so a large index never fills a RAM-backed /tmp.</param>
    public PageIndexSpool(string directory) => _directory = directory;

    /// <summary>Encoded bytes added so far (without the terminator).</summary>
    public long Length { get; private set; }

    /// <summary>Appends one entry.</summary>
    public void Add(uint pgno, long offset, long size)
    {
        if (_buffered + LtxPageIndex.MaxEntryLength > _buffer.Length)
        {
            MakeRoom();
        }
        int written = LtxPageIndex.WriteEntry(_buffer.AsSpan(_buffered), pgno, offset, size);
        _buffered += written;
        Length += written;
    }

    /// <summary>Passes every encoded byte, in order, to <paramref name="write"/> in chunks.</summary>
    public void CopyTo(Action<ReadOnlySpan<byte>> write)
    {
        if (_file is not null)
        {
            _file.Flush();
            _file.Position = 0;
            byte[] chunk = ArrayPool<byte>.Shared.Rent(64 * 1024);
            try
            {
                int read;
                while ((read = _file.Read(chunk)) > 0)
                {
                    write(chunk.AsSpan(0, read));
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(chunk);
            }
        }
        write(_buffer.AsSpan(0, _buffered));
    }

    /// <summary>Returns the buffer and deletes the file. Idempotent.</summary>
    public void Dispose()
    {
        if (_buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = [];
        }
        _file?.Dispose();
        _file = null;
    }

    /// <summary>A bigger buffer up to the limit; past it, the buffered bytes move to the file.</summary>
    private void MakeRoom()
    {
        if (_buffer.Length < MemoryLimit)
        {
            byte[] bigger = ArrayPool<byte>.Shared.Rent(Math.Min(_buffer.Length * 2, MemoryLimit));
            _buffer.AsSpan(0, _buffered).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = bigger;
            return;
        }
        _file ??= new FileStream(Path.Combine(_directory, $".ltx-index-{Guid.NewGuid():N}.tmp"), FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 0, FileOptions.DeleteOnClose);
        _file.Write(_buffer, 0, _buffered);
        _buffered = 0;
    }
}
