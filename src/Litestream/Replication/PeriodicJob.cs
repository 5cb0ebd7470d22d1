namespace Litestream.Replication;

/// <summary>
/// Work a database does on a clock (a compaction level, the level-9 snapshot, retention, validation) as a
/// <see cref="ScheduledJob"/>: <c>work</c> runs, then waits until the next run again. The work handles its own failures.
/// Its name (for a failure's log line) is put together only when asked for: <c>kind</c> is shared, <c>subject</c> is the
/// database's path it already holds, so a thousand databases' five jobs each keep no name string of their own.
/// </summary>
internal sealed class PeriodicJob : ScheduledJob
{
    private readonly string _kind;
    private readonly string _subject;
    // Either asked for the time to the next run, or run on the wall-clock multiples of _aligned (no delegate to keep).
    private readonly Func<TimeSpan>? _untilNext;
    private readonly TimeSpan _aligned;
    private readonly Func<CancellationToken, Task> _work;

    /// <summary>A job whose next run is <paramref name="untilNext"/> away.</summary>
    public PeriodicJob(StoreScheduler scheduler, string kind, string subject, Func<TimeSpan> untilNext, Func<CancellationToken, Task> work, CancellationToken cancellationToken)
        : this(scheduler, kind, subject, work, cancellationToken) => _untilNext = untilNext;

    /// <summary>A job run on the next wall-clock multiple of <paramref name="aligned"/> (<see cref="UntilNextMultiple"/>).</summary>
    public PeriodicJob(StoreScheduler scheduler, string kind, string subject, TimeSpan aligned, Func<CancellationToken, Task> work, CancellationToken cancellationToken)
        : this(scheduler, kind, subject, work, cancellationToken) => _aligned = aligned;

    private PeriodicJob(StoreScheduler scheduler, string kind, string subject, Func<CancellationToken, Task> work, CancellationToken cancellationToken)
        : base(scheduler, cancellationToken)
    {
        _kind = kind;
        _subject = subject;
        _work = work;
    }

    /// <summary>Starts it: the first run after one wait until the next run.</summary>
    public Task StartAsync() => StartAsync(UntilNext());

    /// <summary>Time until the next wall-clock multiple of <paramref name="interval"/> (UTC epoch aligned), so every database's ticks of a level fall together, as upstream's do.</summary>
    public static TimeSpan UntilNextMultiple(TimeSpan interval)
    {
        long now = DateTime.UtcNow.Ticks;
        long next = ((now / interval.Ticks) + 1) * interval.Ticks;
        return TimeSpan.FromTicks(next - now);
    }

    private TimeSpan UntilNext() => _untilNext is { } untilNext ? untilNext() : UntilNextMultiple(_aligned);

    protected override async ValueTask<TimeSpan> RunOnceAsync(CancellationToken cancellationToken)
    {
        await _work(cancellationToken).ConfigureAwait(false);
        return UntilNext();
    }

    public override string ToString() => $"{_kind} {_subject}";
}
