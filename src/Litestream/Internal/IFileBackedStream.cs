namespace Litestream.Internal;

/// <summary>
/// A stream that passes an open file's bytes through (the progress counter's wrapper). An upload that reads the
/// file in place instead of through the stream (<see cref="Storage.S3.S3UploadParts"/>) wraps each window it reads
/// with <see cref="Wrap"/>, so the wrapper still sees those bytes.
/// </summary>
internal interface IFileBackedStream
{
    /// <summary>The file whose bytes the stream passes through from its position; null when it is not one.</summary>
    FileStream? File { get; }

    /// <summary>A window of <see cref="File"/> as this stream would pass it; a window re-read after seeking back (a retried part) counts once.</summary>
    Stream Wrap(Stream window);
}
