using System.Diagnostics.CodeAnalysis;
using System.Threading.Channels;

namespace Litestream.Events;

/// <summary>
/// One subscriber's events, in order, from a bounded buffer: the publisher never waits for a subscriber. One that
/// falls <see cref="Capacity"/> events behind is dropped: <see cref="ReadAsync"/> returns the events buffered before,
/// then one <see cref="ReplicationEventKind.Error"/> saying so, then null. Dispose to unsubscribe.
/// </summary>
public sealed class ReplicationEventSubscription : IDisposable
{
    private readonly Channel<ReplicationEvent> _channel;
    private readonly Action<ReplicationEventSubscription> _unsubscribe;
    private int _overflowed; // 1 once dropped, 2 once the subscriber was told
    private int _disposed;

    internal ReplicationEventSubscription(int capacity, Action<ReplicationEventSubscription> unsubscribe)
    {
        Capacity = capacity;
        _unsubscribe = unsubscribe;
        _channel = Channel.CreateBounded<ReplicationEvent>(new BoundedChannelOptions(capacity)
        {
            SingleReader = true,
            SingleWriter = false,
            FullMode = BoundedChannelFullMode.Wait, // TryWrite fails instead: the subscriber is dropped, nothing is lost silently
        });
    }

    /// <summary>Events buffered at most before the subscriber is dropped.</summary>
    public int Capacity { get; }

    /// <summary>True once the subscriber fell behind and was dropped.</summary>
    public bool Overflowed => Volatile.Read(ref _overflowed) != 0;

    /// <summary>
    /// The next event; null when the subscription ended (disposed, the store closed, or after the overflow error).
    /// </summary>
    public async ValueTask<ReplicationEvent?> ReadAsync(CancellationToken cancellationToken = default)
    {
        if (await _channel.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false) && _channel.Reader.TryRead(out ReplicationEvent? next))
        {
            return next;
        }
        if (Interlocked.CompareExchange(ref _overflowed, 2, 1) == 1)
        {
            return new ReplicationEvent(ReplicationEventKind.Error, "")
            {
                Message = $"events dropped: this subscriber fell {Capacity} events behind; subscribe again",
            };
        }
        return null;
    }

    /// <summary>The next event already buffered, without waiting (to drain what is left when the reader must stop).</summary>
    public bool TryRead([NotNullWhen(true)] out ReplicationEvent? next) => _channel.Reader.TryRead(out next);

    /// <summary>Unsubscribes; a pending <see cref="ReadAsync"/> returns what was buffered, then null.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _unsubscribe(this);
            _channel.Writer.TryComplete();
        }
    }

    /// <summary>Queues <paramref name="e"/>; a full buffer drops the subscriber (false: remove it).</summary>
    internal bool Offer(ReplicationEvent e)
    {
        if (_channel.Writer.TryWrite(e))
        {
            return true;
        }
        if (Volatile.Read(ref _disposed) == 0 && Interlocked.CompareExchange(ref _overflowed, 1, 0) == 0)
        {
            _channel.Writer.TryComplete();
        }
        return false;
    }

    /// <summary>The publisher is gone (the store was disposed): the subscriber reads what is buffered, then null.</summary>
    internal void Complete() => _channel.Writer.TryComplete();
}
