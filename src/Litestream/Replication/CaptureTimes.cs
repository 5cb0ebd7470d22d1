using Litestream.Ltx;

namespace Litestream.Replication;

/// <summary>
/// When this process captured each recent local TXID into an L0 file (the last <see cref="Capacity"/>), so a replica
/// that lacks TXIDs can say since when it has not been in sync: the capture time of the oldest TXID it lacks. Before
/// that moment it held everything, however long ago its last upload was (an idle database uploads nothing and is not
/// stale).
/// </summary>
internal sealed class CaptureTimes
{
    /// <summary>Entries kept: far more L0 files than any replica within its backlog bound waits for in practice.</summary>
    internal const int Capacity = 4096;

    private readonly Lock _lock = new();
    private readonly Queue<(Txid Txid, DateTimeOffset At)> _captures = new();

    /// <summary><paramref name="txid"/> was captured at <paramref name="at"/>.</summary>
    public void Add(Txid txid, DateTimeOffset at)
    {
        lock (_lock)
        {
            if (_captures.Count == Capacity)
            {
                _captures.Dequeue();
            }
            _captures.Enqueue((txid, at));
        }
    }

    /// <summary>
    /// When the oldest TXID after <paramref name="held"/> was captured; null when none was captured here (it came
    /// before this process, or was forgotten past <see cref="Capacity"/>: the caller falls back to what it knows).
    /// </summary>
    public DateTimeOffset? After(Txid held)
    {
        lock (_lock)
        {
            foreach ((Txid txid, DateTimeOffset at) in _captures)
            {
                if (txid > held)
                {
                    return at;
                }
            }
            return null;
        }
    }
}
