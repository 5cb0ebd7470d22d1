using Litestream.Replication;
using Litestream.Storage;

namespace Litestream.Events;

/// <summary>
/// The one publisher of a <see cref="Store"/>'s events: fans each event out to every subscription without waiting
/// (a full subscriber is dropped, see <see cref="ReplicationEventSubscription"/>), so replication never blocks on a
/// reader and memory is bounded by subscribers × capacity. Costs nothing while nobody subscribes.
/// </summary>
internal sealed class ReplicationEvents
{
    private readonly Lock _lock = new();
    private ReplicationEventSubscription[] _subscribers = [];

    /// <summary>True while someone listens (events that cost a read are only built then).</summary>
    public bool HasSubscribers => Volatile.Read(ref _subscribers).Length > 0;

    public ReplicationEventSubscription Subscribe(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        var subscription = new ReplicationEventSubscription(capacity, Remove);
        lock (_lock)
        {
            _subscribers = [.. _subscribers, subscription];
        }
        return subscription;
    }

    /// <summary>Delivers <paramref name="e"/> to every subscriber; its message is redacted first.</summary>
    public void Publish(ReplicationEvent e)
    {
        ReplicationEventSubscription[] subscribers = Volatile.Read(ref _subscribers);
        if (subscribers.Length == 0)
        {
            return;
        }
        if (e.Message is { } message)
        {
            e = e with { Message = Redaction.Apply(message) };
        }
        foreach (ReplicationEventSubscription subscriber in subscribers)
        {
            if (!subscriber.Offer(e))
            {
                Remove(subscriber);
            }
        }
    }

    /// <summary>Ends every subscription (the store is gone).</summary>
    public void Complete()
    {
        ReplicationEventSubscription[] subscribers;
        lock (_lock)
        {
            subscribers = _subscribers;
            _subscribers = [];
        }
        foreach (ReplicationEventSubscription subscriber in subscribers)
        {
            subscriber.Complete();
        }
    }

    private void Remove(ReplicationEventSubscription subscription)
    {
        lock (_lock)
        {
            _subscribers = [.. _subscribers.Where(s => !ReferenceEquals(s, subscription))];
        }
    }
}
