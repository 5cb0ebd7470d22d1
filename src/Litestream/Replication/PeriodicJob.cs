namespace Litestream.Replication;

/// <summary>
/// Work a database does on a clock (a compaction level, the level-9 snapshot, retention, validation) as a
/// <see cref="ScheduledJob"/>: <c>work</c> runs, then waits <c>untilNext</c> again. The work handles its own failures.
/// </summary>
internal sealed class PeriodicJob(StoreScheduler scheduler, string name, Func<TimeSpan> untilNext, Func<CancellationToken, Task> work, CancellationToken cancellationToken)
    : ScheduledJob(scheduler, cancellationToken)
{
    /// <summary>Starts it: the first run after one <c>untilNext</c>.</summary>
    public Task StartAsync() => StartAsync(untilNext());

    /// <summary>Time until the next wall-clock multiple of <paramref name="interval"/> (UTC epoch aligned), so every database's ticks of a level fall together, as upstream's do.</summary>
    public static TimeSpan UntilNextMultiple(TimeSpan interval)
    {
        long now = DateTime.UtcNow.Ticks;
        long next = ((now / interval.Ticks) + 1) * interval.Ticks;
        return TimeSpan.FromTicks(next - now);
    }

    protected override async ValueTask<TimeSpan> RunOnceAsync(CancellationToken cancellationToken)
    {
        await work(cancellationToken).ConfigureAwait(false);
        return untilNext();
    }

    public override string ToString() => name;
}
