using Litestream.Internal;

namespace Litestream.Storage.Nats;

/// <summary>
/// The source of an upload that pushes a deadline forward on each read: the object store reads one chunk, publishes
/// it and waits for JetStream's acknowledgement before it reads the next, so a read that does not come within the
/// limit means a publish is stalled, and <see cref="Token"/> cancels the upload. Time spent is never the limit,
/// only silence: a large file over a slow link that keeps moving finishes.
/// </summary>
internal sealed class NatsUploadDeadline : ReadOnlyStream
{
    private readonly Stream _source;
    private readonly TimeSpan _limit;
    private readonly CancellationTokenSource _deadline;

    public NatsUploadDeadline(Stream source, TimeSpan limit, CancellationToken cancellationToken)
    {
        _source = source;
        _limit = limit;
        _deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _deadline.CancelAfter(limit);
    }

    /// <summary>Cancelled when no chunk was taken for the limit, or when the caller cancels.</summary>
    public CancellationToken Token => _deadline.Token;

    /// <summary>True when the upload stopped for silence, not because the caller cancelled.</summary>
    public bool Stalled(CancellationToken cancellationToken) => _deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested;

    public override int Read(Span<byte> buffer)
    {
        _deadline.CancelAfter(_limit);
        return _source.Read(buffer);
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        _deadline.CancelAfter(_limit);
        return _source.ReadAsync(buffer, cancellationToken);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _deadline.Dispose();
        }
        base.Dispose(disposing);
    }
}
