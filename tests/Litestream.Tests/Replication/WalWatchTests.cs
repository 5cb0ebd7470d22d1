using Litestream.Replication;

namespace Litestream.Tests.Replication;

/// <summary>
/// The one-shot WAL watch. Events reach every watch in the order the kernel queued them, through one reader
/// thread, so "a later watch has fired" proves that no earlier event for another watch is still on its way.
/// </summary>
public class WalWatchTests
{
    private static readonly TimeSpan s_ceiling = TimeSpan.FromSeconds(60);

    private sealed class Counter
    {
        private readonly SemaphoreSlim _signal = new(0);
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public void Changed()
        {
            Interlocked.Increment(ref _count);
            _signal.Release();
        }

        public Task<bool> WaitAsync() => _signal.WaitAsync(s_ceiling);
    }

    private static WalWatch Watch(string wal, Counter counter)
        => WalWatch.TryCreate(wal, counter.Changed, out string? error) ?? throw new InvalidOperationException(error);

    private static void Append(string path) => File.AppendAllText(path, "x");

    [Fact]
    public async Task Arm_ManyWrites_FiresOnceUntilArmedAgain()
    {
        string wal = Path.Combine(TestRepo.TempDir(), "app.db-wal");
        File.WriteAllText(wal, "");
        var first = new Counter();
        using WalWatch watch = Watch(wal, first);
        Assert.True(watch.Arm());
        Append(wal);
        Append(wal);
        Append(wal);
        Assert.True(await first.WaitAsync(), "the first write after Arm did not fire");

        var later = new Counter();
        using WalWatch laterWatch = Watch(wal, later);
        Assert.True(laterWatch.Arm());
        Append(wal);
        Assert.True(await later.WaitAsync(), "a watch armed later did not fire");
        Assert.Equal(1, first.Count);

        Assert.True(watch.Arm());
        Append(wal);
        Assert.True(await first.WaitAsync(), "re-arming did not watch the next write");
        Assert.Equal(2, first.Count);
    }

    [Fact]
    public async Task Arm_WalMissing_FiresWhenItIsCreated()
    {
        string dir = TestRepo.TempDir();
        string wal = Path.Combine(dir, "app.db-wal");
        var counter = new Counter();
        using WalWatch watch = Watch(wal, counter);
        Assert.True(watch.Arm());
        File.WriteAllText(wal, "");
        Assert.True(await counter.WaitAsync(), "creating the WAL did not fire");

        // Once it exists, the next Arm watches the file itself.
        Assert.True(watch.Arm());
        Append(wal);
        Assert.True(await counter.WaitAsync(), "a write to the created WAL did not fire");
    }

    [Fact]
    public async Task Dispose_ArmedWatch_NeverFiresAgain()
    {
        string wal = Path.Combine(TestRepo.TempDir(), "app.db-wal");
        File.WriteAllText(wal, "");
        var disposed = new Counter();
        WalWatch watch = Watch(wal, disposed);
        Assert.True(watch.Arm());
        watch.Dispose();
        Assert.False(watch.Arm());

        var other = new Counter();
        using WalWatch otherWatch = Watch(wal, other);
        Assert.True(otherWatch.Arm());
        Append(wal);
        Assert.True(await other.WaitAsync(), "the remaining watch did not fire");
        Assert.Equal(0, disposed.Count);
    }
}
