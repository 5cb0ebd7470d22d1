using System.Diagnostics;
using Litestream.Logging;
using Litestream.Ltx;
using Microsoft.Extensions.Logging;

namespace Litestream.Replication;

/// <summary>
/// A database's monitor pass (capture the WAL, checkpoint when due) as a <see cref="ScheduledJob"/> on its store's
/// scheduler: woken by a one-shot inotify watch on the WAL (<see cref="WalWatch"/>), with the monitor interval as
/// fallback. Between passes it is one heap entry; a change notification moves that entry earlier.
/// </summary>
/// <remarks>
/// When a pass is due: while the WAL is watched a quiet database is not looked at every interval (the watch fires on
/// its next write), only when a time-based checkpoint falls due and every <see cref="QuietChecks"/> intervals as a
/// backstop (<see cref="ReleasedQuietChecks"/> once it let its connections go). A change after a quiet gap is synced after <see cref="StoreOptions.ChangeDebounce"/>, so a lone commit
/// reaches the replica in tens of milliseconds. A change within <see cref="StoreOptions.BurstWindow"/> of the last
/// file means commits keep coming: the next file then waits for one monitor interval after the last, as upstream's
/// ticker spaces them, because every file is one upload (one PUT on object storage) and a busy writer must not turn
/// into 50 requests a second. A failed pass is retried after an exponential backoff, which a change does not cut short.
/// </remarks>
internal sealed class DatabaseMonitor : ScheduledJob, IDisposable
{
    /// <summary>Monitor intervals a watched, quiet database that still holds its connections sleeps at most (see <see cref="QuietWait"/>).</summary>
    internal const int QuietChecks = 10;

    /// <summary>
    /// Monitor intervals a watched database whose connections were let go sleeps at most (see <see cref="QuietWait"/>):
    /// with a thousand idle databases, each look (a stat, an open and two reads of its WAL, the watch set again) every
    /// <see cref="QuietChecks"/> intervals was most of the process's idle CPU.
    /// </summary>
    internal const int ReleasedQuietChecks = 60;

    private readonly Db _db;
    private readonly StoreOptions _options;
    private readonly WalWatch? _watch;
    private readonly Action<bool> _synced;
    private readonly Action<int> _recovered;
    private readonly Action<Exception, TimeSpan> _failed;
    private TimeSpan _failureDelay;
    private int _failures;
    private long _lastFileAt;
    private bool _armed;
    private bool _backingOff;
    // Under Sync: waiting for the quiet backstop or the monitor interval, which a change cuts short.
    private bool _waiting;
    // Under Sync: a change arrived while a pass ran, or during a debounce or backoff: one more pass follows.
    private bool _changed;

    /// <summary>
    /// The monitor of <paramref name="db"/>: after each pass <paramref name="synced"/> (whether it wrote a file), after
    /// the first pass that succeeds following failures <paramref name="recovered"/> (how many), after each failure
    /// <paramref name="failed"/> (the error, the delay before the retry).
    /// </summary>
    public DatabaseMonitor(StoreScheduler scheduler, Db db, StoreOptions options, ILogger logger,
        Action<bool> synced, Action<int> recovered, Action<Exception, TimeSpan> failed, CancellationToken cancellationToken)
        : base(scheduler, cancellationToken)
    {
        _db = db;
        _options = options;
        _synced = synced;
        _recovered = recovered;
        _failed = failed;
        _watch = WalWatch.TryCreate(db.WalPath, Changed, out string? error);
        if (_watch is null)
        {
            // No inotify (another OS, limits reached): the monitor interval still drives syncs.
            Log.Warning(logger, db.Path, $"change notifications unavailable ({error}); polling every {GoDuration.Format(db.Options.MonitorInterval)}");
        }
    }

    /// <summary>Runs the passes until the token is cancelled; ends when the pass in flight has.</summary>
    public Task RunAsync() => StartAsync(TimeSpan.Zero);

    public void Dispose() => _watch?.Dispose();

    /// <summary>The WAL's change notification (tests); null where inotify is unavailable.</summary>
    internal WalWatch? Watch => _watch;

    public override string ToString() => $"monitor {_db.Path}";

    /// <summary>The WAL changed (on the watch's reader thread: only reschedules), or a pass wants another.</summary>
    private void Changed()
    {
        lock (Sync)
        {
            if (_waiting && TryRescheduleLocked(ChangeDelay()))
            {
                _waiting = false;
                return;
            }
            _changed = true; // a pass runs or is about to: one more follows it
        }
    }

    protected override ValueTask<TimeSpan> RunOnceAsync(CancellationToken cancellationToken)
    {
        try
        {
            // Armed before the WAL is read: a commit that lands after this point wakes the monitor again, one that
            // landed before is in this capture. The watch fires once, so a busy writer costs one event per pass.
            _armed = _watch?.Arm() ?? false;
            bool wrote = _db.Sync();
            Txid synced = _db.Txid;
            if (_db.CheckpointIfNeeded())
            {
                // The checkpoint captured up to its barrier and may have written our own row, which fired the watch.
                // Commits since are left to the next pass, spaced like any change: re-arm, and count them as one
                // (at worst a pass that finds nothing).
                _armed = _watch?.Arm() ?? false;
                wrote |= _db.Txid > synced;
                Changed();
            }
            if (wrote)
            {
                Volatile.Write(ref _lastFileAt, Stopwatch.GetTimestamp());
            }
            _synced(wrote);
            if (_failures > 0)
            {
                _recovered(_failures);
            }
            _failures = 0;
            _failureDelay = TimeSpan.Zero;
            return ValueTask.FromResult(_armed ? QuietWait(_db) : _db.Options.MonitorInterval);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _failures++;
            _failureDelay = _failureDelay == TimeSpan.Zero ? _db.Options.MonitorInterval : _options.Backoff(_failureDelay);
            _failed(e, _failureDelay);
            _backingOff = true;
            return ValueTask.FromResult(_failureDelay);
        }
    }

    protected override TimeSpan AfterRunLocked(TimeSpan next)
    {
        if (_backingOff)
        {
            _backingOff = false; // a change meanwhile stays noted for after the retry
            _waiting = false;
            return next;
        }
        if (_changed)
        {
            _changed = false;
            _waiting = false;
            return ChangeDelay();
        }
        _waiting = true;
        return next;
    }

    /// <summary>How long after a change the pass runs: the debounce, or, within the burst window of the last file, one monitor interval after it.</summary>
    private TimeSpan ChangeDelay()
    {
        long lastFileAt = Volatile.Read(ref _lastFileAt);
        TimeSpan sinceFile = lastFileAt == 0 ? TimeSpan.MaxValue : Stopwatch.GetElapsedTime(lastFileAt);
        TimeSpan delay = sinceFile < _options.BurstWindow ? _db.Options.MonitorInterval - sinceFile : TimeSpan.Zero;
        return delay > _options.ChangeDebounce ? delay : _options.ChangeDebounce;
    }

    /// <summary>
    /// How long a watched, quiet database sleeps: until its time-based checkpoint is due, at least one monitor
    /// interval and at most <see cref="QuietChecks"/> of them (a backstop against a change notification lost in
    /// a way not foreseen here), <see cref="ReleasedQuietChecks"/> once its connections are let go. Waking every
    /// interval to find nothing cost an idle replicator a timer, a thread-pool worker and the pool's gate thread each
    /// second. The shorter bound while connected is also when the idle release is looked at; released, there is
    /// nothing left to let go and the watch is what wakes it (a lost event, an inotify queue overflow, wakes every
    /// database at once: <see cref="WalWatch"/>).
    /// </summary>
    private static TimeSpan QuietWait(Db db)
    {
        TimeSpan interval = db.Options.MonitorInterval;
        TimeSpan longest = interval * (db.ConnectionCount == 0 ? ReleasedQuietChecks : QuietChecks);
        return db.CheckpointDueIn is { } due ? (due < interval ? interval : due > longest ? longest : due) : longest;
    }
}
