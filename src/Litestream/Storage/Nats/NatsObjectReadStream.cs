using System.IO.Pipelines;
using Litestream.Internal;
using NATS.Client.ObjectStore;

namespace Litestream.Storage.Nats;

/// <summary>
/// An object's bytes as they arrive: the object store has no ranged read and hands an object only to a stream it
/// writes, so a background download writes into a pipe (at most a few MiB ahead of the reader) and the caller reads
/// the other end. The download's failure (a digest mismatch, a lost connection) is the reader's; disposing stops it.
/// </summary>
internal sealed class NatsObjectReadStream : ReadOnlyStream
{
    private const long PauseAt = 4 * 1024 * 1024;
    private readonly Pipe _pipe = new(new PipeOptions(pauseWriterThreshold: PauseAt, resumeWriterThreshold: PauseAt / 2, useSynchronizationContext: false));
    private readonly CancellationTokenSource _stop = new();
    private readonly Stream _reader;
    private readonly Task _download;

    /// <summary>Starts downloading <paramref name="name"/>; <paramref name="failure"/> turns a download error into the reader's.</summary>
    public NatsObjectReadStream(INatsObjStore store, string name, Func<Exception, Exception> failure)
    {
        _reader = _pipe.Reader.AsStream();
        _download = Task.Run(async () =>
        {
            Exception? error = null;
            try
            {
                await store.GetAsync(name, _pipe.Writer.AsStream(leaveOpen: true), leaveOpen: true, _stop.Token).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                error = _stop.IsCancellationRequested ? e : failure(e);
            }
            await _pipe.Writer.CompleteAsync(error).ConfigureAwait(false);
        });
    }

    public override int Read(Span<byte> buffer) => _reader.Read(buffer);

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        => _reader.ReadAsync(buffer, cancellationToken);

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _stop.Cancel();
            _reader.Dispose();
            // The download ends at its next write (the pipe's reader is complete) or at the cancellation.
            _download.ContinueWith(static (_, stop) => ((CancellationTokenSource)stop!).Dispose(), _stop, TaskScheduler.Default);
        }
        base.Dispose(disposing);
    }
}
