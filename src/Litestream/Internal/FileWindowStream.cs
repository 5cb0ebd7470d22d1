using Microsoft.Win32.SafeHandles;

namespace Litestream.Internal;

/// <summary>
/// A read-only, seekable view of <c>size</c> bytes of an open file from <c>start</c>, read with positional reads:
/// views of one file read at once without sharing a position or a buffer, and a retry seeks back to resend. The
/// handle stays its owner's.
/// </summary>
internal sealed class FileWindowStream(SafeFileHandle file, long start, long size) : ReadOnlyStream
{
    private long _position;

    public override bool CanSeek => true;
    public override long Length => size;

    public override long Position
    {
        get => _position;
        set => _position = value is >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value));
    }

    public override int Read(Span<byte> buffer)
    {
        int want = Remaining(buffer.Length);
        int n = want == 0 ? 0 : RandomAccess.Read(file, buffer[..want], start + _position);
        _position += n;
        return n;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int want = Remaining(buffer.Length);
        int n = want == 0 ? 0 : await RandomAccess.ReadAsync(file, buffer[..want], start + _position, cancellationToken).ConfigureAwait(false);
        _position += n;
        return n;
    }

    public override long Seek(long offset, SeekOrigin origin)
    {
        Position = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => _position + offset,
            SeekOrigin.End => size + offset,
            _ => throw new ArgumentOutOfRangeException(nameof(origin)),
        };
        return _position;
    }

    private int Remaining(int wanted) => (int)Math.Clamp(size - _position, 0, wanted);
}
