using Litestream.Ltx;
using Litestream.Storage;

namespace Litestream.Internal;

/// <summary>
/// An LTX file about to go up in a request that needs its length first or may be sent again (a retry, an
/// authentication challenge): its header time is read, and a source that cannot seek is staged in a temporary file
/// (deleted on dispose); <see cref="Content()"/> sends the range again on every attempt.
/// </summary>
internal sealed class SizedLtxUpload : IAsyncDisposable
{
    private readonly FileStream? _staged;
    private readonly Stream _source;
    private readonly long _start;

    private SizedLtxUpload(FileStream? staged, Stream source, long start, DateTimeOffset createdAt)
    {
        _staged = staged;
        _source = source;
        _start = start;
        Length = source.Length - start;
        CreatedAt = createdAt;
    }

    /// <summary>Bytes of the file.</summary>
    public long Length { get; }

    /// <summary>The time its LTX header holds.</summary>
    public DateTimeOffset CreatedAt { get; }

    /// <summary>Reads the header of <paramref name="data"/> and stages it when it cannot seek (a file named after <paramref name="backend"/>).</summary>
    public static async ValueTask<SizedLtxUpload> PrepareAsync(string backend, Stream data, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(data);
        long start = data.CanSeek ? data.Position : 0;
        byte[] header = new byte[LtxConstants.HeaderSize];
        int read = await data.ReadAtLeastAsync(header, header.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        DateTimeOffset createdAt = ReplicaTimestamp.FromHeader(header.AsSpan(0, read));
        FileStream? staged = data.CanSeek ? null : await StageAsync(backend, header.AsMemory(0, read), data, cancellationToken).ConfigureAwait(false);
        return new SizedLtxUpload(staged, staged ?? data, start, createdAt);
    }

    /// <summary>A request body of the whole file (each one reads from the start again).</summary>
    public HttpContent Content() => new StreamRangeContent(_source, _start, Length);

    /// <summary>A request body of <paramref name="length"/> bytes of the file from <paramref name="offset"/> (a chunk of a resumable upload).</summary>
    public HttpContent Content(long offset, long length) => new StreamRangeContent(_source, _start + offset, length);

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _staged?.DisposeAsync() ?? ValueTask.CompletedTask;

    /// <summary>Copies the header already read and the rest of <paramref name="rest"/> into a temporary file deleted on close.</summary>
    private static async Task<FileStream> StageAsync(string backend, ReadOnlyMemory<byte> header, Stream rest, CancellationToken cancellationToken)
    {
        string path = Path.Combine(Path.GetTempPath(), $"litestream-{backend}-{Guid.NewGuid():N}.ltx");
        var file = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 64 * 1024, FileOptions.DeleteOnClose | FileOptions.Asynchronous);
        try
        {
            await file.WriteAsync(header, cancellationToken).ConfigureAwait(false);
            await rest.CopyToAsync(file, cancellationToken).ConfigureAwait(false);
            return file;
        }
        catch
        {
            await file.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}
