namespace Litestream.Internal;

/// <summary>
/// An upload whose source cannot seek, staged in a temporary file first: a request that needs its Content-Length
/// up front, or that may be sent again (a retry, an authentication challenge), reads the file instead.
/// </summary>
internal static class UploadStaging
{
    /// <summary>Copies the header already read and the rest of <paramref name="rest"/> into a temporary file deleted on close.</summary>
    public static async Task<FileStream> StageAsync(string backend, ReadOnlyMemory<byte> header, Stream rest, CancellationToken cancellationToken)
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
