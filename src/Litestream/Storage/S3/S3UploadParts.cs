using System.Buffers;
using Litestream.Internal;
using Litestream.Ltx;
using Microsoft.Win32.SafeHandles;

namespace Litestream.Storage.S3;

/// <summary>
/// Cuts an upload's source into request bodies of at most the part size. A file's parts are windows of it that each
/// request reads in place (positional reads): parts in flight hold no buffer, so memory stays flat whatever the
/// part size, the concurrency or the file. Any other stream's parts are pooled buffers filled in turn (a retry must
/// be able to resend them). A wrapper over a file (<see cref="IFileBackedStream"/>) is read in place as well.
/// </summary>
internal sealed class S3UploadParts
{
    private readonly Stream _data;
    private readonly SafeFileHandle? _file;
    private readonly Func<Stream, Stream>? _wrap;
    private readonly long _partSize;
    private readonly long _end;
    private long _offset;

    public S3UploadParts(Stream data, long partSize)
    {
        _data = data;
        _partSize = partSize;
        // A wrapper over a file (the progress counter) has the file read in place too, each window through it.
        var backed = data as IFileBackedStream;
        if ((data as FileStream ?? backed?.File) is { CanSeek: true } file)
        {
            _wrap = backed is null ? null : backed.Wrap;
            file.Flush(); // a snapshot written through this stream may still sit in its buffer
            _file = file.SafeFileHandle;
        }
        _offset = data.CanSeek ? data.Position : 0;
        _end = data.CanSeek ? data.Length : -1;
    }

    /// <summary>The next part; a part shorter than the part size is the last, and one of length 0 means there was none.</summary>
    public async ValueTask<S3UploadPart> NextAsync(CancellationToken cancellationToken)
    {
        // A source of known length asks for exactly what is left when that is less than a part.
        int want = (int)(_end >= 0 ? Math.Clamp(_end - _offset, 0, _partSize) : _partSize);
        if (_file is not null)
        {
            Stream body = new FileWindowStream(_file, _offset, want);
            var window = new S3UploadPart(_wrap is null ? body : _wrap(body), want, null);
            _offset += want;
            return window;
        }
        byte[] buffer = ArrayPool<byte>.Shared.Rent(Math.Max(want, 1));
        try
        {
            int read = await _data.ReadAtLeastAsync(buffer.AsMemory(0, want), want, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            _offset += read;
            return new S3UploadPart(new MemoryStream(buffer, 0, read, writable: false), read, buffer);
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }

    /// <summary>The creation time in the LTX header the first part starts with (now when it holds none).</summary>
    public static DateTimeOffset CreatedAt(S3UploadPart first)
    {
        Span<byte> header = stackalloc byte[LtxConstants.HeaderSize];
        Stream body = first.Body;
        int read = body.ReadAtLeast(header, header.Length, throwOnEndOfStream: false);
        body.Position = 0;
        return ReplicaTimestamp.FromHeader(header[..read]);
    }
}

/// <summary>One part's request body and its length; <see cref="Release"/> returns a pooled buffer behind it.</summary>
internal readonly record struct S3UploadPart(Stream Body, int Length, byte[]? Pooled)
{
    public void Release()
    {
        if (Pooled is not null)
        {
            ArrayPool<byte>.Shared.Return(Pooled);
        }
    }
}
