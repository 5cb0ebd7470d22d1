using System.Collections.Concurrent;
using System.Diagnostics;
using Litestream.Ltx;
using Litestream.Replication;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

namespace Litestream.Tests.Replication;

/// <summary>
/// The quiet backstop of a database whose connections were let go (issue 21: idle CPU with a thousand databases): it
/// looks at its WAL every <see cref="DatabaseMonitor.ReleasedQuietChecks"/> monitor intervals, never sooner while
/// nothing is written; a change its watch did not report is found by that look; an inotify queue overflow makes every
/// database look at once. Each pass is recorded with its time and whether the database was released after it, so the
/// assertions are about which pass did what, not about how fast a loaded machine is.
/// </summary>
[Collection(RunsAloneCollection.Name)]
public sealed class DatabaseMonitorTests : IAsyncDisposable
{
    private readonly StoreScheduler _scheduler = new(NullLogger.Instance);
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Monitored> _monitored = [];

    /// <summary>A database under its monitor, an application connection to it, and the passes the monitor made.</summary>
    private sealed class Monitored : IAsyncDisposable
    {
        private readonly SqliteConnection _app;
        private int _rows;

        public Monitored(string path, DbOptions options, StoreScheduler scheduler, CancellationToken cancellationToken)
        {
            _app = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
            _app.Open();
            Exec("PRAGMA journal_mode=wal; CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB);");
            Write();
            Db = new Db(path, options);
            Db.Open();
            Monitor = new DatabaseMonitor(scheduler, Db, new StoreOptions(), NullLogger.Instance,
                synced: _ => Passes.Enqueue((Stopwatch.GetTimestamp(), Db.ConnectionCount == 0, Db.Txid)),
                recovered: _ => { },
                failed: (e, _) => Failures.Enqueue(e),
                cancellationToken);
            Run = Monitor.RunAsync();
        }

        public Db Db { get; }

        public DatabaseMonitor Monitor { get; }

        public Task Run { get; }

        /// <summary>Each pass: when it ended, whether the connections were let go by then, the TXID synced.</summary>
        public ConcurrentQueue<(long At, bool Released, Txid Txid)> Passes { get; } = new();

        public ConcurrentQueue<Exception> Failures { get; } = new();

        public void Write() => Exec($"INSERT INTO t(v) VALUES (randomblob(1000 + {_rows++}))");

        private void Exec(string sql)
        {
            using SqliteCommand command = _app.CreateCommand();
            command.CommandText = sql;
            command.ExecuteNonQuery();
        }

        public async ValueTask DisposeAsync()
        {
            await Run;
            Monitor.Dispose();
            await Db.DisposeAsync();
            _app.Dispose();
        }
    }

    private Monitored Start(string path, TimeSpan interval)
    {
        // No time-based checkpoint: nothing but the backstop, a change or an overflow wakes a released database.
        var options = new DbOptions { MonitorInterval = interval, IdleConnectionTimeout = TimeSpan.FromMilliseconds(100), CheckpointInterval = TimeSpan.Zero };
        var monitored = new Monitored(path, options, _scheduler, _stop.Token);
        _monitored.Add(monitored);
        Assert.NotNull(monitored.Monitor.Watch); // Linux: the watch is what a released database relies on
        return monitored;
    }

    /// <summary>Starts monitoring <paramref name="path"/> and waits until a pass has let its connections go.</summary>
    private async Task<Monitored> StartReleasedAsync(string path, TimeSpan interval)
    {
        Monitored m = Start(path, interval);
        await Wait.UntilAsync(() => m.Passes.Any(p => p.Released && p.Txid.Value > 0), "the database to let its connections go");
        return m;
    }

    private static TimeSpan Gap(long from, long to) => Stopwatch.GetElapsedTime(from, to);

    /// <summary>The index of the first pass past <paramref name="idle"/>, and how long after the pass before it it came.</summary>
    private static (int Index, TimeSpan SincePrevious) Capture(Monitored m, Txid idle)
    {
        var passes = m.Passes.ToArray();
        int index = Array.FindIndex(passes, p => p.Txid > idle);
        Assert.True(index > 0, "no pass before the capture");
        return (index, Gap(passes[index - 1].At, passes[index].At));
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        foreach (Monitored m in _monitored)
        {
            await m.DisposeAsync();
            Assert.Empty(m.Failures);
        }
        _scheduler.Dispose();
        _stop.Dispose();
    }

    [Fact]
    public async Task Released_Quiet_LooksOnlyEveryReleasedQuietChecksIntervals()
    {
        TimeSpan interval = TimeSpan.FromMilliseconds(50);
        Monitored m = await StartReleasedAsync(Path.Combine(TestRepo.TempDir(), "app.db"), interval);
        int released = m.Passes.Count;
        await Wait.UntilAsync(() => m.Passes.Count >= released + 2, "two backstop looks after the release");

        // A timer never fires early, so however loaded the machine, no look came sooner than the released backstop
        // (it was 10 intervals, 0.5 s here, before).
        var passes = m.Passes.ToArray();
        for (int i = released; i < released + 2; i++)
        {
            Assert.True(passes[i - 1].Released);
            Assert.InRange(Gap(passes[i - 1].At, passes[i].At), interval * DatabaseMonitor.ReleasedQuietChecks, TimeSpan.MaxValue);
            Assert.Equal(passes[i - 1].Txid, passes[i].Txid);
        }
    }

    [Fact]
    public async Task Released_ChangeTheWatchMissed_TheNextBackstopLookCapturesIt()
    {
        TimeSpan interval = TimeSpan.FromMilliseconds(50);
        Monitored m = await StartReleasedAsync(Path.Combine(TestRepo.TempDir(), "app.db"), interval);
        // Right after a look (which armed the watch again), the next one is a full backstop away.
        int looked = m.Passes.Count;
        await Wait.UntilAsync(() => m.Passes.Count > looked, "a backstop look");
        int before = m.Passes.Count;
        Txid idle = m.Db.Txid;

        m.Monitor.Watch!.DropKernelWatch();
        m.Write();
        await Wait.UntilAsync(() => m.Db.Txid > idle, "the backstop to capture the unreported commit");

        // Captured by the first look after the last one before the write, which came a full backstop after its predecessor:
        // the backstop found it, not a notification (that would have come after the debounce).
        (int capture, TimeSpan sincePrevious) = Capture(m, idle);
        Assert.Equal(before, capture);
        Assert.InRange(sincePrevious, interval * DatabaseMonitor.ReleasedQuietChecks, TimeSpan.MaxValue);
    }

    [Fact]
    public async Task QueueOverflow_EveryReleasedDatabaseLooksAtOnce_AndCapturesWhatNoEventReported()
    {
        // 30 s released backstop: the overflow's looks come long before it.
        TimeSpan interval = TimeSpan.FromMilliseconds(500);
        string dir = TestRepo.TempDir();
        Monitored[] all = await Task.WhenAll(Enumerable.Range(0, 3).Select(i => StartReleasedAsync(Path.Combine(dir, $"t{i}.db"), interval)));
        var idle = all.Select(m => (m.Db.Txid, Passes: m.Passes.Count)).ToArray();
        foreach (Monitored m in all)
        {
            m.Monitor.Watch!.DropKernelWatch();
            m.Write();
        }

        WalWatch.Dispatch(-1, WalWatch.InQueueOverflow); // what the reader thread does with the kernel's overflow event
        await Wait.UntilAsync(() => all.Select((m, i) => m.Db.Txid > idle[i].Txid).All(b => b), "every database to capture its unreported commit");

        for (int i = 0; i < all.Length; i++)
        {
            (int capture, TimeSpan sincePrevious) = Capture(all[i], idle[i].Txid);
            Assert.Equal(idle[i].Passes, capture); // the first look after the overflow
            Assert.True(sincePrevious < interval * DatabaseMonitor.ReleasedQuietChecks, $"database {i} was captured by its backstop, not by the overflow");
        }
    }
}
