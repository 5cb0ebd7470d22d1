using System.Diagnostics;
using Litestream.Logging;
using Microsoft.Extensions.Logging;

namespace Litestream.Replication;

/// <summary>
/// Every timed wake-up of a <see cref="Store"/>'s databases (monitor passes, checkpoint due times, failure backoffs,
/// compaction ticks, snapshots, retention, validation) on one timer: a min-heap of items keyed by due time, and the
/// timer set for the earliest. Due items run on the thread pool. A thousand idle databases thus cost a few thousand
/// heap entries and one pending timer, not a timer and a suspended loop each.
/// </summary>
internal sealed class StoreScheduler : IDisposable
{
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Timer _timer;
    private ScheduledItem[] _heap = new ScheduledItem[16];
    private int _count;
    private long _sequence;
    // The Stopwatch timestamp the timer is set for (long.MaxValue: not set).
    private long _timerDue = long.MaxValue;
    private bool _disposed;

    public StoreScheduler(ILogger logger)
    {
        _logger = logger;
        _timer = new Timer(static s => ((StoreScheduler)s!).OnTimer(), this, Timeout.Infinite, Timeout.Infinite);
    }

    /// <summary>Items waiting for their time (for tests and status).</summary>
    public int Pending
    {
        get
        {
            lock (_lock)
            {
                return _count;
            }
        }
    }

    /// <summary>
    /// Runs <paramref name="item"/> once, <paramref name="delay"/> from now (zero or less: at once, on the pool). An item
    /// already waiting is moved to the new time, earlier or later: an item waits at most once.
    /// </summary>
    public void Schedule(ScheduledItem item, TimeSpan delay)
    {
        long now = Stopwatch.GetTimestamp();
        ScheduleAt(item, delay <= TimeSpan.Zero ? now : now + Math.Min((long)(delay.TotalSeconds * Stopwatch.Frequency), long.MaxValue / 2), now);
    }

    /// <summary>As <see cref="Schedule"/>, at the Stopwatch timestamp <paramref name="due"/>.</summary>
    internal void ScheduleAt(ScheduledItem item, long due, long now)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            item.Due = due;
            item.Sequence = _sequence++;
            if (item.HeapIndex < 0)
            {
                if (_count == _heap.Length)
                {
                    Array.Resize(ref _heap, _count * 2);
                }
                item.HeapIndex = _count;
                _heap[_count++] = item;
            }
            Restore(item.HeapIndex);
            ArmLocked(now);
        }
    }

    /// <summary>Takes <paramref name="item"/> off the schedule; false when it was not waiting (it may be running).</summary>
    public bool Cancel(ScheduledItem item)
    {
        lock (_lock)
        {
            if (item.HeapIndex < 0)
            {
                return false;
            }
            RemoveAt(item.HeapIndex);
            return true; // the timer may fire for nothing once: cheaper than resetting it on every cancel
        }
    }

    /// <summary>A <see cref="Task.Delay(TimeSpan, CancellationToken)"/> on this scheduler's timer (a backoff inside a loop).</summary>
    public Task DelayAsync(TimeSpan delay, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled(cancellationToken);
        }
        var wait = new Delay(this, cancellationToken);
        Schedule(wait, delay);
        if (wait.Task.IsCanceled)
        {
            Cancel(wait); // cancelled between the check and the registration
        }
        return wait.Task;
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            _count = 0;
            _heap = [];
        }
        _timer.Dispose();
    }

    private void OnTimer()
    {
        foreach (ScheduledItem item in TakeDue(Stopwatch.GetTimestamp()))
        {
            ThreadPool.UnsafeQueueUserWorkItem(static s => s.scheduler.Invoke(s.item), (scheduler: this, item), preferLocal: false);
        }
    }

    /// <summary>Takes off the heap, in order, every item due by <paramref name="now"/> (a Stopwatch timestamp), and sets the timer for the next.</summary>
    internal List<ScheduledItem> TakeDue(long now)
    {
        var due = new List<ScheduledItem>();
        lock (_lock)
        {
            _timerDue = long.MaxValue;
            while (_count > 0 && _heap[0].Due <= now)
            {
                due.Add(_heap[0]);
                RemoveAt(0);
            }
            ArmLocked(Stopwatch.GetTimestamp());
        }
        return due;
    }

    private void Invoke(ScheduledItem item)
    {
        try
        {
            item.Run();
        }
        catch (Exception e)
        {
            // An item handles its own failures; one that did not must not take the process or the other items down.
            Log.ScheduledWorkFailed(_logger, item.ToString() ?? item.GetType().Name, e.Message);
        }
    }

    /// <summary>Sets the timer for the earliest item, unless it is already set at least as early.</summary>
    private void ArmLocked(long now)
    {
        if (_count == 0 || _disposed)
        {
            return;
        }
        long due = _heap[0].Due;
        if (due >= _timerDue)
        {
            return;
        }
        _timerDue = due;
        // Rounded up: a timer that fires before the item is due would only be set again.
        double ms = due <= now ? 0 : Math.Ceiling(Stopwatch.GetElapsedTime(now, due).TotalMilliseconds);
        _timer.Change((long)Math.Min(ms, uint.MaxValue - 1), Timeout.Infinite);
    }

    private static bool Earlier(ScheduledItem a, ScheduledItem b) => a.Due < b.Due || (a.Due == b.Due && a.Sequence < b.Sequence);

    private void RemoveAt(int index)
    {
        ScheduledItem removed = _heap[index];
        removed.HeapIndex = -1;
        _count--;
        if (index < _count)
        {
            ScheduledItem last = _heap[_count];
            _heap[index] = last;
            last.HeapIndex = index;
            Restore(index);
        }
        _heap[_count] = null!;
    }

    /// <summary>Moves the item at <paramref name="index"/> up or down until the heap order holds again.</summary>
    private void Restore(int index)
    {
        ScheduledItem item = _heap[index];
        while (index > 0)
        {
            int parent = (index - 1) / 2;
            if (!Earlier(item, _heap[parent]))
            {
                break;
            }
            Place(_heap[parent], index);
            index = parent;
        }
        while (true)
        {
            int child = (2 * index) + 1;
            if (child >= _count)
            {
                break;
            }
            if (child + 1 < _count && Earlier(_heap[child + 1], _heap[child]))
            {
                child++;
            }
            if (!Earlier(_heap[child], item))
            {
                break;
            }
            Place(_heap[child], index);
            index = child;
        }
        Place(item, index);
    }

    private void Place(ScheduledItem item, int index)
    {
        _heap[index] = item;
        item.HeapIndex = index;
    }

    /// <summary>One <see cref="DelayAsync"/>: completes when due, or cancelled with its token.</summary>
    private sealed class Delay : ScheduledItem
    {
        private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly CancellationTokenRegistration _registration;

        public Delay(StoreScheduler scheduler, CancellationToken cancellationToken)
        {
            _registration = cancellationToken.UnsafeRegister(static (s, token) =>
            {
                var (delay, scheduler) = ((Delay, StoreScheduler))s!;
                scheduler.Cancel(delay);
                delay._done.TrySetCanceled(token);
            }, (this, scheduler));
        }

        public Task Task => _done.Task;

        protected internal override void Run()
        {
            _registration.Dispose();
            _done.TrySetResult();
        }
    }
}

/// <summary>Something a <see cref="StoreScheduler"/> runs when it is due; its place in the scheduler's heap.</summary>
internal abstract class ScheduledItem
{
    internal int HeapIndex = -1;
    internal long Due;
    // Ties run in the order they were scheduled.
    internal long Sequence;

    /// <summary>Runs on a pool thread when due; long work must go async. It handles its own failures.</summary>
    protected internal abstract void Run();
}
