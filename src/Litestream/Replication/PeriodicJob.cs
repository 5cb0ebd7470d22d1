namespace Litestream.Replication;

/// <summary>
/// Work a database does on a clock (a compaction level, the level-9 snapshot, retention, validation) as a
/// <see cref="ScheduledJob"/>: <c>work</c> runs, then waits <c>untilNext</c> again. The work handles its own failures.
/// Its name (for a failure's log line) is put together only when asked for: <c>kind</c> is shared, <c>subject</c> is the
/// database's path it already holds, so a thousand databases' five jobs each keep no name string of their own.
/// </summary>
internal sealed class PeriodicJob(StoreScheduler scheduler, string kind, string subject, Func<TimeSpan> untilNext, Func<CancellationToken, Task> work, CancellationToken cancellationToken)
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

    public override string ToString() => $"{kind} {subject}";
}
