using System.Buffers;
using Microsoft.Win32.SafeHandles;

namespace Litestream.Restore;

/// <summary>
/// Coalesces pages with consecutive numbers into one positional write of up to <paramref name="runBytes"/>
/// (1 MiB by default): a snapshot restores with a few hundred large writes instead of one syscall per page.
/// </summary>
internal sealed class PageRunWriter(SafeFileHandle file, uint pageSize, int runBytes = 1 << 20) : IDisposable
{
    private readonly int _runBytes = Math.Max(runBytes, (int)pageSize);
    private byte[]? _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(runBytes, (int)pageSize));
    private uint _firstPgno;
    private int _length;

    /// <summary>
    /// Where the next page is to be decoded: the run's next free slot (written out first when full), so a
    /// decoder writes each page straight into the run instead of a page buffer that is then copied.
    /// </summary>
    public Span<byte> NextSlot
    {
        get
        {
            if (_length + (int)pageSize > _runBytes)
            {
                Flush();
            }
            return _buffer.AsSpan(_length, (int)pageSize);
        }
    }

    /// <summary>Takes the page just decoded into <see cref="NextSlot"/> as page <paramref name="pgno"/>.</summary>
    public void Commit(uint pgno)
    {
        if (_length > 0 && pgno != _firstPgno + (uint)(_length / pageSize))
        {
            // Not the next page of the run: write the run out and start a new one with this page.
            int slot = _length;
            Flush();
            _buffer.AsSpan(slot, (int)pageSize).CopyTo(_buffer);
        }
        if (_length == 0)
        {
            _firstPgno = pgno;
        }
        _length += (int)pageSize;
    }

    public void Flush()
    {
        if (_length > 0)
        {
            RandomAccess.Write(file, _buffer.AsSpan(0, _length), (long)(_firstPgno - 1) * pageSize);
            _length = 0;
        }
    }

    public void Dispose()
    {
        if (_buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = null;
        }
    }
}
