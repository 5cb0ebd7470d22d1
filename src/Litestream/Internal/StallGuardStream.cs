using System.Buffers;

namespace Litestream.Internal;

/// <summary>
/// Blocking reads of a network body that a cancellation can interrupt and that fail when no byte arrives
/// for <paramref name="stallTimeout"/>: each <see cref="Read(byte[], int, int)"/> is the inner stream's
/// <c>ReadAsync</c> under a token linking <paramref name="cancellationToken"/> with a per-read timer. A
/// restore worker decodes with the synchronous LTX decoder on its own thread; without this a stalled
/// connection would hang the restore, and a cancelled one would still wait for its body. Asynchronous reads get
/// the same timeout (a backend's body stream whose library bounds no read).
/// </summary>
internal sealed class StallGuardStream(Stream inner, TimeSpan stallTimeout, string what, CancellationToken cancellationToken) : ReadOnlyStream
{
    private CancellationTokenSource? _timer;

    public override int Read(byte[] buffer, int offset, int count) => ReadCore(buffer.AsMemory(offset, count));

    public override int Read(Span<byte> buffer)
    {
        byte[] rented = ArrayPool<byte>.Shared.Rent(buffer.Length);
        try
        {
            int n = ReadCore(rented.AsMemory(0, buffer.Length));
            rented.AsSpan(0, n).CopyTo(buffer);
            return n;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    /// <summary>An asynchronous read under the same stall timeout, also cancelled by <paramref name="token"/>.</summary>
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken token = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, token);
        timer.CancelAfter(stallTimeout);
        try
        {
            return await inner.ReadAsync(buffer, timer.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && !token.IsCancellationRequested)
        {
            throw new IOException($"{what}: no data for {stallTimeout.TotalSeconds:0} s");
        }
    }

    private int ReadCore(Memory<byte> buffer)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (_timer is null || !_timer.TryReset())
        {
            _timer?.Dispose();
            _timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        }
        _timer.CancelAfter(stallTimeout);
        try
        {
            return inner.ReadAsync(buffer, _timer.Token).AsTask().GetAwaiter().GetResult();
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new IOException($"{what}: no data for {stallTimeout.TotalSeconds:0} s");
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _timer?.Dispose();
            inner.Dispose();
        }
        base.Dispose(disposing);
    }
}
