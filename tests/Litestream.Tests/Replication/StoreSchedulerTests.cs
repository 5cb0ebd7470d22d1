using System.Collections.Concurrent;
using System.Diagnostics;
using Litestream.Replication;
using Microsoft.Extensions.Logging.Abstractions;

namespace Litestream.Tests.Replication;

/// <summary>
/// The store's one timer for every timed wake-up (<see cref="StoreScheduler"/>): items come due in order (ties in the
/// order they were scheduled), a re-schedule moves an item, a cancelled one never runs, one that throws stops nobody,
/// and thousands of items wait on a single timer.
/// </summary>
[Collection(RunsAloneCollection.Name)]
public sealed class StoreSchedulerTests : IDisposable
{
    private readonly StoreScheduler _scheduler = new(NullLogger.Instance);

    public void Dispose() => _scheduler.Dispose();

    /// <summary>Records when it ran; throws when told to.</summary>
    private sealed class Item(string name, ConcurrentQueue<string>? ran = null, bool throws = false) : ScheduledItem
    {
        private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Done => _done.Task;

        public int Runs;

        protected internal override void Run()
        {
            Interlocked.Increment(ref Runs);
            ran?.Enqueue(name);
            _done.TrySetResult();
            if (throws)
            {
                throw new InvalidOperationException($"{name} failed");
            }
        }

        public override string ToString() => name;
    }

    private static long In(TimeSpan delay) => Stopwatch.GetTimestamp() + (long)(delay.TotalSeconds * Stopwatch.Frequency);

    [Fact]
    public void TakeDue_ItemsInDueOrder_TiesInScheduleOrder_LaterOnesStay()
    {
        Item three = new("3m"), one = new("1m"), twoA = new("2m-a"), twoB = new("2m-b"), late = new("1h");
        long now = Stopwatch.GetTimestamp();
        long minute = 60 * Stopwatch.Frequency;
        _scheduler.ScheduleAt(three, now + (3 * minute), now);
        _scheduler.ScheduleAt(late, now + (60 * minute), now);
        _scheduler.ScheduleAt(twoB, now + (2 * minute), now);
        _scheduler.ScheduleAt(one, now + minute, now);
        _scheduler.ScheduleAt(twoA, now + (2 * minute), now);
        _scheduler.ScheduleAt(twoB, now + (2 * minute), now); // scheduled again: now after twoA
        Assert.Equal(5, _scheduler.Pending);

        List<ScheduledItem> due = _scheduler.TakeDue(now + (30 * minute));

        Assert.Equal(["1m", "2m-a", "2m-b", "3m"], due.Select(i => i.ToString()!));
        Assert.Equal(1, _scheduler.Pending);
        Assert.True(_scheduler.Cancel(late));
        Assert.Equal(0, _scheduler.Pending);
    }

    [Fact]
    public void Schedule_Again_MovesTheItem_EarlierOrLater_ItWaitsOnce()
    {
        Item a = new("a"), b = new("b");
        _scheduler.Schedule(a, TimeSpan.FromMinutes(10));
        _scheduler.Schedule(b, TimeSpan.FromMinutes(5));
        _scheduler.Schedule(a, TimeSpan.FromMinutes(1)); // earlier
        Assert.Equal(2, _scheduler.Pending);
        Assert.Equal(["a"], _scheduler.TakeDue(In(TimeSpan.FromMinutes(2))).Select(i => i.ToString()!));

        _scheduler.Schedule(a, TimeSpan.FromMinutes(1));
        _scheduler.Schedule(b, TimeSpan.FromMinutes(20)); // later
        Assert.Equal(["a"], _scheduler.TakeDue(In(TimeSpan.FromMinutes(10))).Select(i => i.ToString()!));
        Assert.Equal(["b"], _scheduler.TakeDue(In(TimeSpan.FromMinutes(30))).Select(i => i.ToString()!));
        Assert.Equal(0, _scheduler.Pending);
    }

    [Fact]
    public async Task Timer_RescheduledEarlier_RunsAtTheNewTime()
    {
        var item = new Item("moved");
        _scheduler.Schedule(item, TimeSpan.FromHours(1));
        var elapsed = Stopwatch.StartNew();
        _scheduler.Schedule(item, TimeSpan.FromMilliseconds(50));
        await item.Done.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(elapsed.Elapsed >= TimeSpan.FromMilliseconds(50), $"ran after {elapsed.Elapsed}");
        Assert.Equal(1, item.Runs);
        Assert.Equal(0, _scheduler.Pending);
    }

    [Fact]
    public async Task Timer_ItemsRunInDueOrder()
    {
        var ran = new ConcurrentQueue<string>();
        Item[] items = [new("300", ran), new("100", ran), new("200", ran)];
        foreach (Item item in items)
        {
            _scheduler.Schedule(item, TimeSpan.FromMilliseconds(int.Parse(item.ToString()!, System.Globalization.CultureInfo.InvariantCulture)));
        }
        await Task.WhenAll(items.Select(i => i.Done)).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(["100", "200", "300"], ran);
    }

    [Fact]
    public async Task Cancel_TheItemNeverRuns_OthersDo()
    {
        var cancelled = new Item("cancelled");
        var after = new Item("after");
        _scheduler.Schedule(cancelled, TimeSpan.FromMilliseconds(50));
        _scheduler.Schedule(after, TimeSpan.FromMilliseconds(150));
        Assert.True(_scheduler.Cancel(cancelled));
        Assert.False(_scheduler.Cancel(cancelled));
        await after.Done.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(0, cancelled.Runs);
        Assert.Equal(0, _scheduler.Pending);
    }

    [Fact]
    public async Task DelayAsync_CompletesWhenDue_OrCancelledWithItsToken_LeavingNothingBehind()
    {
        var elapsed = Stopwatch.StartNew();
        await _scheduler.DelayAsync(TimeSpan.FromMilliseconds(30), default).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(elapsed.Elapsed >= TimeSpan.FromMilliseconds(30));

        using var cancel = new CancellationTokenSource();
        Task waiting = _scheduler.DelayAsync(TimeSpan.FromHours(1), cancel.Token);
        Assert.Equal(1, _scheduler.Pending);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        Assert.Equal(0, _scheduler.Pending);
        Assert.True(_scheduler.DelayAsync(TimeSpan.FromHours(1), cancel.Token).IsCanceled);
        Assert.Equal(0, _scheduler.Pending);
    }

    [Fact]
    public async Task ThrowingItem_DoesNotStopTheOthers_NorTheScheduler()
    {
        var ran = new ConcurrentQueue<string>();
        var throwing = new Item("throws", ran, throws: true);
        var same = new Item("same tick", ran);
        var later = new Item("later", ran);
        _scheduler.Schedule(throwing, TimeSpan.FromMilliseconds(20));
        _scheduler.Schedule(same, TimeSpan.FromMilliseconds(20));
        _scheduler.Schedule(later, TimeSpan.FromMilliseconds(100));
        await Task.WhenAll(throwing.Done, same.Done, later.Done).WaitAsync(TimeSpan.FromSeconds(30));

        var again = new Item("again", ran);
        _scheduler.Schedule(again, TimeSpan.FromMilliseconds(10));
        await again.Done.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(4, ran.Count);
    }

    [Fact]
    public async Task ManyItems_OneTimer_EveryOneRunsOnce()
    {
        const int count = 10_000;
        long before = Timer.ActiveCount;
        var random = new Random(21);
        Item[] items = [.. Enumerable.Range(0, count).Select(i => new Item($"item{i}"))];
        foreach (Item item in items)
        {
            _scheduler.Schedule(item, TimeSpan.FromMilliseconds(200 + random.Next(800)));
        }
        Assert.Equal(count, _scheduler.Pending);
        // Every item waits in the heap; the scheduler holds one timer for them all (others in this process may come and go).
        Assert.InRange(Timer.ActiveCount - before, 0, 3);

        await Task.WhenAll(items.Select(i => i.Done)).WaitAsync(TimeSpan.FromMinutes(2));
        Assert.All(items, i => Assert.Equal(1, i.Runs));
        Assert.Equal(0, _scheduler.Pending);
    }
}
