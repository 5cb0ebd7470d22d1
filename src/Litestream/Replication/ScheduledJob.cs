namespace Litestream.Replication;

/// <summary>
/// A database's recurring work on its store's <see cref="StoreScheduler"/> (the monitor pass, a compaction level,
/// validation): it runs when due, never twice at once, and each run says when the next is due. Between runs it is one
/// heap entry, no timer and no suspended loop. Cancelling its token stops it; <see cref="Completion"/> ends once a run
/// in flight has finished, so the database is closed only after, as when each was a loop of its own.
/// </summary>
internal abstract class ScheduledJob : ScheduledItem
{
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private CancellationTokenRegistration _registration;
    private bool _running;
    private bool _stopped;

    protected ScheduledJob(StoreScheduler scheduler, CancellationToken cancellationToken)
    {
        Scheduler = scheduler;
        Token = cancellationToken;
    }

    /// <summary>Ends when the job stopped and no run is in flight; faulted when a run threw (other than its cancellation).</summary>
    public Task Completion => _completion.Task;

    protected StoreScheduler Scheduler { get; }

    protected CancellationToken Token { get; }

    /// <summary>Guards the run state; a subclass's own state that signals from other threads touch is guarded by it too.</summary>
    protected Lock Sync { get; } = new();

    /// <summary>Schedules the first run <paramref name="first"/> from now; returns <see cref="Completion"/>.</summary>
    public Task StartAsync(TimeSpan first)
    {
        lock (Sync)
        {
            Scheduler.Schedule(this, first);
        }
        _registration = Token.UnsafeRegister(static s => ((ScheduledJob)s!).Stop(), this);
        return Completion;
    }

    /// <summary>One run; returns how long until the next.</summary>
    protected abstract ValueTask<TimeSpan> RunOnceAsync(CancellationToken cancellationToken);

    /// <summary>Called under <see cref="Sync"/> after a run, with the delay it asked for; returns the one to use.</summary>
    protected virtual TimeSpan AfterRunLocked(TimeSpan next) => next;

    /// <summary>Moves the next run to <paramref name="delay"/> from now, when the job is waiting (not running, not stopped); call under <see cref="Sync"/>.</summary>
    protected bool TryRescheduleLocked(TimeSpan delay)
    {
        if (_running || _stopped)
        {
            return false;
        }
        Scheduler.Schedule(this, delay);
        return true;
    }

    protected internal sealed override void Run()
    {
        lock (Sync)
        {
            if (_stopped || _running)
            {
                return; // moved earlier while it ran (a change it is capturing anyway): it is scheduled again after this run
            }
            _running = true;
        }
        _ = RunAndRescheduleAsync();
    }

    private async Task RunAndRescheduleAsync()
    {
        TimeSpan next = TimeSpan.Zero;
        Exception? failure = null;
        try
        {
            next = await RunOnceAsync(Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (Token.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            failure = e; // as a loop that threw: the job ends, and whoever awaits Completion sees why
        }
        bool finished;
        lock (Sync)
        {
            _running = false;
            _stopped |= failure is not null || Token.IsCancellationRequested;
            finished = _stopped;
            if (!finished)
            {
                Scheduler.Schedule(this, AfterRunLocked(next));
            }
        }
        if (finished)
        {
            Finish(failure);
        }
    }

    private void Stop()
    {
        bool finished;
        lock (Sync)
        {
            _stopped = true;
            Scheduler.Cancel(this);
            finished = !_running;
        }
        if (finished)
        {
            Finish(null);
        }
    }

    private void Finish(Exception? failure)
    {
        if (failure is null ? _completion.TrySetResult() : _completion.TrySetException(failure))
        {
            _registration.Dispose();
        }
    }
}
