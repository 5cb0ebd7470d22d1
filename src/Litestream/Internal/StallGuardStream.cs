using System.Buffers;

namespace Litestream.Internal;

/// <summary>
/// Reads of a network body that fail when no byte arrives for <paramref name="stallTimeout"/> and that a
/// cancellation interrupts at once: the caller's token or <paramref name="cancellationToken"/>. Each read is the
/// inner stream's <c>ReadAsync</c> under a per-read timer; a synchronous <see cref="Read(Span{byte})"/> waits
/// for it, so a restore worker decoding with the synchronous LTX decoder on its own thread, or the SDK parsing
/// a response, cannot hang on a stalled connection either. A stall throws what <paramref name="stalled"/> makes
/// of the message ("no data for 1m0s").
/// </summary>
internal sealed class StallGuardStream(Stream inner, TimeSpan stallTimeout, Func<string, Exception> stalled, CancellationToken cancellationToken) : ReadOnlyStream
{
    private CancellationTokenSource? _timer;

    /// <summary>A guard whose stall is an <see cref="IOException"/> "<paramref name="what"/>: no data for 2s".</summary>
    public StallGuardStream(Stream inner, TimeSpan stallTimeout, string what, CancellationToken cancellationToken)
        : this(inner, stallTimeout, message => new IOException($"{what}: {message}"), cancellationToken)
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => ReadCoreAsync(buffer.AsMemory(offset, count), default).AsTask().GetAwaiter().GetResult();

    public override int Read(Span<byte> buffer)
    {
        byte[] rented = ArrayPool<byte>.Shared.Rent(buffer.Length);
        try
        {
            int n = ReadCoreAsync(rented.AsMemory(0, buffer.Length), default).AsTask().GetAwaiter().GetResult();
            rented.AsSpan(0, n).CopyTo(buffer);
            return n;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken token = default) => ReadCoreAsync(buffer, token);

    private async ValueTask<int> ReadCoreAsync(Memory<byte> buffer, CancellationToken token)
    {
        cancellationToken.ThrowIfCancellationRequested();
        token.ThrowIfCancellationRequested();
        if (_timer is null || !_timer.TryReset())
        {
            _timer?.Dispose();
            _timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        }
        _timer.CancelAfter(stallTimeout);
        CancellationTokenSource timer = _timer;
        using CancellationTokenRegistration caller = token.UnsafeRegister(static t => ((CancellationTokenSource)t!).Cancel(), timer);
        try
        {
            return await inner.ReadAsync(buffer, timer.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && !token.IsCancellationRequested)
        {
            throw stalled($"no data for {GoDuration.Format(stallTimeout)}");
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            throw new OperationCanceledException(token);
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
