namespace Litestream.Replication;

/// <summary>Settings shared by every database in a <see cref="Store"/>.</summary>
public sealed record StoreOptions
{
    /// <summary>How long the final sync and upload may take on shutdown (30 s).</summary>
    public TimeSpan ShutdownSyncTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Pause between final upload attempts on shutdown (500 ms).</summary>
    public TimeSpan ShutdownSyncInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Longest backoff after repeated failures (5 min, as upstream).</summary>
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Delay after a WAL change notification that follows a quiet gap (see <see cref="BurstWindow"/>) before
    /// syncing, so the few writes of one commit become one file (20 ms).
    /// </summary>
    public TimeSpan ChangeDebounce { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary>
    /// A change arriving within this time of the last L0 file means commits keep coming: the next file then
    /// waits until one monitor interval (<see cref="DbOptions.MonitorInterval"/>) after the last, so a busy
    /// writer ships one file per interval, as upstream does. A change after a longer gap is synced after
    /// <see cref="ChangeDebounce"/>, so a lone commit reaches the replica in tens of milliseconds (250 ms).
    /// </summary>
    public TimeSpan BurstWindow { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// How many compaction passes (a level's merge, a level-9 snapshot, retention) run at once across every database of
    /// the store (the processor count, at least 2): their ticks fall on the same wall-clock multiples for every database.
    /// </summary>
    public int MaxConcurrentCompactions { get; init; } = Math.Max(2, Environment.ProcessorCount);

    /// <summary>The next delay of an exponential backoff: twice <paramref name="delay"/>, at most <see cref="MaxBackoff"/>.</summary>
    internal TimeSpan Backoff(TimeSpan delay)
    {
        TimeSpan next = delay * 2;
        return next > MaxBackoff ? MaxBackoff : next;
    }
}
