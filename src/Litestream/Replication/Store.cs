using Litestream.Events;
using Litestream.Lease;
using Litestream.Logging;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Litestream.Replication;


/// <summary>
/// Runs replication for a set of databases (upstream <c>Store</c>): per database a monitor pass (woken by a
/// one-shot inotify watch on the WAL, <see cref="WalWatch"/>, with the monitor interval as fallback) and one
/// upload loop per replica. Every timed wake-up (monitor, checkpoint, compaction, retention, validation,
/// backoffs) is an entry in the store's one <see cref="StoreScheduler"/>: an idle database costs heap entries,
/// no timer and no thread. Errors are logged, counted and retried with exponential backoff; nothing stops silently.
/// </summary>
/// <remarks>
/// Two ways to run it: <see cref="OpenAsync"/> … <see cref="CloseAsync"/> (or <c>await using</c>) replicates
/// in the background while the application works (upstream <c>Store.Open</c>/<c>Close</c>), and
/// <see cref="RunAsync"/> replicates until its token is cancelled. Either way the end is one last bounded
/// sync and upload, then every <see cref="Db"/> is closed. The store does not own the replica clients.
/// Databases join and leave while it runs (upstream <c>RegisterDB</c>/<c>UnregisterDB</c>): <see cref="RegisterAsync"/>
/// starts one, <see cref="UnregisterAsync"/> gives one its final sync and closes it while the others replicate on.
/// </remarks>
public sealed partial class Store : IAsyncDisposable
{
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    // Shared by every compactor of the store (StoreOptions.MaxConcurrentCompactions); never disposed, it has no wait handle.
    private readonly SemaphoreSlim _compactionGate;
    // Every timed wake-up of every database: one timer for the store, not one per loop.
    private readonly StoreScheduler _scheduler;
    private readonly List<Replica> _replicas;
    // While RunAsync runs: its token, and the loops of every database started under it.
    private CancellationToken? _runToken;
    private readonly Dictionary<Replica, Member> _running = new(ReferenceEqualityComparer.Instance);
    // Databases that stopped on their own (another process replicates them, their lease was taken over), for RunAsync to throw.
    private readonly List<Exception> _stoppedOnTheirOwn = [];
    private readonly ReplicationEvents _events = new();

    /// <summary>One running database: what stops it, its loops, and whether it is leaving the store.</summary>
    private sealed class Member(CancellationTokenSource stop, bool registering)
    {
        public CancellationTokenSource Stop { get; } = stop;
        // Started by RegisterAsync, which throws a refusal (DatabaseLockedException) to its caller: not reported again.
        public bool Registering { get; } = registering;
        public Task Run { get; set; } = Task.CompletedTask;
        public bool Leaving { get; set; }
    }

    /// <summary>
    /// Creates a store over the replicas of its databases; <paramref name="compaction"/> null disables compaction.
    /// Replicas of the same <see cref="Db"/> instance replicate that database to several places, each at its own
    /// pace (<see cref="Db.Replicas"/>); the first of them is the one <see cref="Replicas"/> lists.
    /// </summary>
    public Store(IEnumerable<Replica> replicas, StoreOptions? options = null, ILogger? logger = null, CompactionOptions? compaction = null)
    {
        _replicas = [];
        foreach (Replica replica in replicas)
        {
            replica.Db.Backlog.Join(replica);
            if (!_replicas.Exists(r => r.Db == replica.Db))
            {
                _replicas.Add(replica);
            }
        }
        Options = options ?? new StoreOptions();
        _logger = logger ?? NullLogger.Instance;
        Compaction = compaction;
        _compactionGate = new SemaphoreSlim(Math.Max(1, Options.MaxConcurrentCompactions));
        _scheduler = new StoreScheduler(_logger);
    }

    /// <summary>Compaction, snapshot and retention settings; null when the store only ships L0 files.</summary>
    public CompactionOptions? Compaction { get; }

    /// <summary>The settings.</summary>
    public StoreOptions Options { get; }

    /// <summary>The first replica of each database (<see cref="Db.Replicas"/> lists them all) now: a copy, as databases may be registered and unregistered meanwhile.</summary>
    public IReadOnlyList<Replica> Replicas
    {
        get
        {
            lock (_lock)
            {
                return [.. _replicas];
            }
        }
    }

    /// <summary>
    /// Raised (on a pool thread) when a database stops replicating on its own while the store runs: another process
    /// replicates it (<see cref="DatabaseLockedException"/>) or took over its lease. It has left the store by then.
    /// </summary>
    public event EventHandler<DatabaseStoppedEventArgs>? DatabaseStopped;

    /// <summary>
    /// Subscribes to the databases' events while the store runs (LiteFS's event stream): a
    /// <see cref="ReplicationEventKind.Tx"/> for every transaction once the replica confirmed its upload (never before),
    /// a <see cref="ReplicationEventKind.PrimaryChange"/> when a lease is taken, lost or released, and an
    /// <see cref="ReplicationEventKind.Error"/> for each failed sync or upload (retried). Replication never waits for a
    /// subscriber: one that falls <paramref name="capacity"/> events behind is dropped (it reads an error, then the end).
    /// </summary>
    public ReplicationEventSubscription SubscribeEvents(int capacity = 256) => _events.Subscribe(capacity);

    /// <summary>Number of sync or upload failures since start (for status and metrics).</summary>
    public long ErrorCount => Interlocked.Read(ref _errorCount);

    /// <summary>Timed wake-ups waiting in the store's scheduler (for tests: it grows with databases, its timer count does not).</summary>
    internal int ScheduledCount => _scheduler.Pending;

    private long _errorCount;
    private CancellationTokenSource? _background;
    private Task? _backgroundRun;

    /// <summary>
    /// Opens every database whose file exists (upstream <c>Store.Open</c>), reconciles it with its replica,
    /// then replicates in the background until <see cref="CloseAsync"/>. A database file that does not exist
    /// yet is waited for in the background (the application may create it after this returns). Errors while
    /// opening are thrown and leave nothing open; later errors are logged and retried.
    /// </summary>
    /// <exception cref="InvalidOperationException">The store is already open.</exception>
    /// <exception cref="LocalStateException">A database's local state is damaged and its replica does not auto-recover.</exception>
    public async Task OpenAsync(CancellationToken cancellationToken = default)
    {
        if (_backgroundRun is not null)
        {
            throw new InvalidOperationException("store is already open");
        }
        try
        {
            foreach (Replica replica in Replicas)
            {
                if (File.Exists(replica.Db.Path))
                {
                    await OpenReplicaAsync(replica, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch
        {
            foreach (Replica replica in Replicas)
            {
                await replica.Db.DisposeAsync().ConfigureAwait(false);
            }
            throw;
        }
        _background = new CancellationTokenSource();
        _backgroundRun = RunAsync(_background.Token);
    }

    /// <summary>
    /// Stops background replication (upstream <c>Store.Close</c>): every database gets one last sync and upload,
    /// bounded by <see cref="StoreOptions.ShutdownSyncTimeout"/>, and is closed. Does nothing when the store is
    /// not open. Cancelling <paramref name="cancellationToken"/> stops waiting, not the final sync.
    /// </summary>
    /// <exception cref="ReplicaBehindException">A replica does not hold everything its database committed (also logged as an error).</exception>
    /// <exception cref="IOException">A database that exists could not be opened for its final sync (also logged).</exception>
    /// <exception cref="DatabaseLockedException">A database that appeared after <see cref="OpenAsync"/> is replicated by another process.</exception>
    /// <exception cref="AggregateException">Several of these, one per database.</exception>
    public async Task CloseAsync(CancellationToken cancellationToken = default)
    {
        if (_backgroundRun is not { } run)
        {
            return;
        }
        await _background!.CancelAsync().ConfigureAwait(false);
        try
        {
            await run.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (run.IsCompleted)
            {
                _background.Dispose();
                _background = null;
                _backgroundRun = null;
            }
        }
    }

    /// <summary>
    /// Closes the store (see <see cref="CloseAsync"/>). A final sync that left a replica behind is logged as an error
    /// but not thrown from here; call <see cref="CloseAsync"/> to act on it.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await CloseAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or AggregateException)
        {
            // ReplicaBehindException, DatabaseLockedException, a database that could not be opened: logged where it
            // happened; Dispose does not throw.
        }
    }

    /// <summary>
    /// Captures what every database has committed so far and uploads it (upstream <c>DB.Sync</c> followed by
    /// <c>Replica.Sync</c>): when this returns, each replica holds every transaction committed before the call.
    /// Safe beside the background loops. Opens a database the store has not opened yet.
    /// </summary>
    /// <exception cref="FileNotFoundException">A database file does not exist.</exception>
    /// <exception cref="ReplicaBehindException">A replica could not be brought up to date.</exception>
    /// <exception cref="DatabaseLockedException">Another process replicates a database the store had not opened yet.</exception>
    public async Task SyncAsync(CancellationToken cancellationToken = default)
    {
        foreach (Replica replica in Replicas)
        {
            if (!replica.Db.IsOpen)
            {
                await OpenReplicaAsync(replica, cancellationToken).ConfigureAwait(false);
            }
            replica.Db.Sync();
            await EachReplicaAsync(replica, r => SyncNamingAsync(r, cancellationToken)).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// <see cref="Replica.SyncAsync"/>; a storage error of a database with several replicas becomes a
    /// <see cref="ReplicaBehindException"/> naming the replica that did not get the transactions.
    /// </summary>
    private static async Task SyncNamingAsync(Replica replica, CancellationToken cancellationToken)
    {
        try
        {
            await replica.SyncAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException and not ReplicaBehindException and not LeaseException && replica.Db.IsOpen && replica.Db.Replicas.Count > 1)
        {
            throw replica.Behind(replica.Db.Txid, e.Message, e);
        }
    }

    /// <summary>Every replica of <paramref name="primary"/>'s database (itself alone when it was never grouped).</summary>
    private static IReadOnlyList<Replica> ReplicasOf(Replica primary) => primary.Db.Replicas is { Count: > 0 } all ? all : [primary];

    /// <summary>
    /// Runs <paramref name="action"/> on every replica of the database at once, so a slow one delays nobody; throws
    /// what failed (one exception, or an <see cref="AggregateException"/> of them, each naming its replica).
    /// </summary>
    private static async Task EachReplicaAsync(Replica primary, Func<Replica, Task> action)
    {
        IReadOnlyList<Replica> all = ReplicasOf(primary);
        if (all.Count == 1)
        {
            await action(all[0]).ConfigureAwait(false);
            return;
        }
        Task[] tasks = [.. all.Select(action)];
        try
        {
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
        catch
        {
            Exception[] failures = [.. tasks.Where(t => t.IsFaulted).SelectMany(t => t.Exception!.InnerExceptions)];
            if (failures.Length == 1)
            {
                throw failures[0];
            }
            if (failures.Length == 0)
            {
                throw; // cancelled
            }
            throw new AggregateException(failures);
        }
    }

    /// <summary>
    /// Replicates until <paramref name="cancellationToken"/> is cancelled, then flushes, closes every database and
    /// returns (the daemon's way; see <see cref="OpenAsync"/> for the background way). Returns normally only when
    /// every replica holds what its database committed.
    /// </summary>
    /// <exception cref="ReplicaBehindException">A final sync left a replica behind (also logged as an error).</exception>
    /// <exception cref="IOException">A database that exists could not be opened for its final sync (also logged).</exception>
    /// <exception cref="DatabaseLockedException">Another process replicates a database; that database's part ends at once, the others run on.</exception>
    /// <exception cref="AggregateException">Several of these, one per database.</exception>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_runToken is not null)
            {
                throw new InvalidOperationException("store is already running");
            }
            _runToken = cancellationToken;
            foreach (Replica replica in _replicas)
            {
                Start(replica, cancellationToken, registering: false);
            }
        }
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        Task[] runs;
        lock (_lock)
        {
            _runToken = null;
            runs = [.. _running.Values.Select(m => m.Run)];
        }
        Task all = Task.WhenAll(runs);
        try
        {
            await all.ConfigureAwait(false);
        }
        catch (Exception) when (all.Exception is not null)
        {
        }
        List<Exception> failures;
        lock (_lock)
        {
            failures = [.. _stoppedOnTheirOwn, .. all.Exception?.InnerExceptions ?? []];
            _stoppedOnTheirOwn.Clear();
            _running.Clear();
        }
        if (failures.Count > 0)
        {
            throw failures.Count == 1 ? failures[0] : new AggregateException(failures);
        }
    }

    /// <summary>
    /// Adds a database (upstream <c>Store.RegisterDB</c>). While the store runs it starts replicating at once, and
    /// this returns when it holds its replication lock (its file need not exist yet: it is opened when it appears);
    /// otherwise it starts with the store. False when a database at the same path is in the store already.
    /// </summary>
    /// <exception cref="DatabaseLockedException">Another process replicates it: it is not added, and neither
    /// <see cref="DatabaseStopped"/> nor <see cref="RunAsync"/> reports it again.</exception>
    public async Task<bool> RegisterAsync(Replica replica, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(replica);
        Member? member = null;
        lock (_lock)
        {
            if (_replicas.Exists(r => string.Equals(r.Db.Path, replica.Db.Path, StringComparison.Ordinal)))
            {
                return false;
            }
            _replicas.Add(replica);
            replica.Db.Backlog.Join(replica);
            if (_runToken is { } running)
            {
                member = Start(replica, running, registering: true);
            }
        }
        // The lock is the first thing a database's loops take, before waiting for its file: this takes milliseconds.
        while (member is not null && !replica.Db.IsLocked && !member.Run.IsCompleted)
        {
            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
        }
        if (member is { Run.IsFaulted: true } && !replica.Db.IsLocked)
        {
            await member.Run.ConfigureAwait(false);
        }
        return true;
    }

    /// <summary>
    /// Adds a database replicated to several places: <paramref name="replicas"/> all replicate one <see cref="Db"/>,
    /// each at its own pace, as the constructor takes them; otherwise as <see cref="RegisterAsync(Replica, CancellationToken)"/>.
    /// </summary>
    /// <exception cref="ArgumentException">No replica, or replicas of different databases.</exception>
    /// <exception cref="DatabaseLockedException">Another process replicates it.</exception>
    public Task<bool> RegisterReplicasAsync(IReadOnlyList<Replica> replicas, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(replicas);
        if (replicas.Count == 0 || replicas.Any(r => r.Db != replicas[0].Db))
        {
            throw new ArgumentException("replicas of exactly one database are needed", nameof(replicas));
        }
        foreach (Replica replica in replicas)
        {
            replicas[0].Db.Backlog.Join(replica); // in order: the first is the database's primary
        }
        return RegisterAsync(replicas[0], cancellationToken);
    }

    /// <summary>
    /// Removes a database (upstream <c>Store.UnregisterDB</c>): its loops stop, the final sync ships what it committed
    /// (bounded by <see cref="StoreOptions.ShutdownSyncTimeout"/>), it is closed and leaves the store; its replica is
    /// kept. The others replicate on. False when no database at <paramref name="path"/> is in the store. Cancelling
    /// <paramref name="cancellationToken"/> stops waiting, not the final sync (the database leaves when it ends).
    /// </summary>
    /// <exception cref="ReplicaBehindException">The final sync left its replica behind (it left the store all the same).</exception>
    /// <exception cref="IOException">It could not be opened for its final sync (it left the store all the same).</exception>
    public async Task<bool> UnregisterAsync(string path, CancellationToken cancellationToken = default)
    {
        Replica? replica;
        Member? member;
        lock (_lock)
        {
            replica = _replicas.Find(r => string.Equals(r.Db.Path, path, StringComparison.Ordinal));
            if (replica is null)
            {
                return false;
            }
            if (_running.TryGetValue(replica, out member))
            {
                member.Leaving = true;
            }
            else
            {
                _replicas.Remove(replica);
            }
        }
        if (member is null)
        {
            // Never started here (or already stopped by RunAsync): nothing to flush, but it may have been opened by SyncAsync.
            await replica.Db.DisposeAsync().ConfigureAwait(false);
            return true;
        }
        try
        {
            await member.Stop.CancelAsync().ConfigureAwait(false);
        }
        catch (ObjectDisposedException)
        {
            // Its loops ended meanwhile (and it left the store).
        }
        await member.Run.WaitAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>Starts one database's loops under <paramref name="running"/>; called under the lock.</summary>
    private Member Start(Replica replica, CancellationToken running, bool registering)
    {
        var member = new Member(CancellationTokenSource.CreateLinkedTokenSource(running), registering);
        _running[replica] = member;
        // On the pool: its first steps (the lock, the first open) must not run under the store's lock.
        member.Run = Task.Run(() => RunMemberAsync(replica, member), CancellationToken.None);
        return member;
    }

    private async Task RunMemberAsync(Replica replica, Member member)
    {
        Exception? failure = null;
        try
        {
            await RunDatabaseAsync(replica, member.Stop.Token).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            failure = e;
            throw;
        }
        finally
        {
            bool onItsOwn = !member.Stop.IsCancellationRequested;
            bool refused = member.Registering && failure is DatabaseLockedException;
            lock (_lock)
            {
                if (member.Leaving || onItsOwn)
                {
                    _replicas.Remove(replica);
                    _running.Remove(replica);
                }
                if (onItsOwn && failure is not null && !refused)
                {
                    _stoppedOnTheirOwn.Add(failure);
                }
            }
            member.Stop.Dispose();
            if (onItsOwn && !refused)
            {
                DatabaseStopped?.Invoke(this, new DatabaseStoppedEventArgs(replica, failure));
            }
        }
    }

    /// <summary>
    /// Opens, syncs, uploads and closes every database once (replicate <c>-once</c>); throws if any failed. With
    /// <paramref name="enforceRetention"/> (<c>-enforce-retention</c>) each replica then drops the snapshots older
    /// than <see cref="CompactionOptions.SnapshotRetention"/> and the files they made obsolete, as the daemon does
    /// after each snapshot (nothing when <see cref="Compaction"/> is null or has retention disabled).
    /// </summary>
    public async Task SyncOnceAsync(bool enforceRetention = false, CancellationToken cancellationToken = default)
    {
        var failures = new List<Exception>();
        foreach (Replica replica in Replicas)
        {
            LeaseException? leaseFailure = null;
            using var running = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            Task renewal = Task.CompletedTask;
            try
            {
                await OpenReplicaAsync(replica, cancellationToken).ConfigureAwait(false);
                // An upload longer than the lease's TTL must not fence itself: renew while working; a takeover ends the work.
                renewal = Task.WhenAll(ReplicasOf(replica).Select(r => r.Lease is { } held ? RenewLeaseAsync(held, running, e => leaseFailure = e) : Task.CompletedTask));
                replica.Db.Sync();
                await EachReplicaAsync(replica, async r =>
                {
                    await SyncNamingAsync(r, running.Token).ConfigureAwait(false);
                    if (enforceRetention && (r.Options.Compaction ?? Compaction) is { RetentionEnabled: true } compaction)
                    {
                        int deleted = await new Compactor(r, compaction, _logger).EnforceSnapshotRetentionAsync(DateTimeOffset.UtcNow, running.Token).ConfigureAwait(false);
                        Log.RetentionEnforced(_logger, r.Db.Path, deleted, GoDuration.Format(compaction.SnapshotRetention));
                    }
                }).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (leaseFailure is not null && !cancellationToken.IsCancellationRequested)
            {
                failures.Add(leaseFailure);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                failures.Add(e switch
                {
                    ReplicaBehindException or DatabaseLockedException or LeaseException or AggregateException => e, // their messages name the database or replica
                    _ when replica.Db.IsOpen => replica.Behind(replica.Db.Txid, e.Message, e), // opened, captured, not uploaded
                    _ => new IOException($"{replica.Db.Path}: {e.Message}", e),
                });
            }
            finally
            {
                await running.CancelAsync().ConfigureAwait(false);
                await renewal.ConfigureAwait(false);
                await ReleaseLeasesAsync(replica).ConfigureAwait(false);
                await replica.Db.DisposeAsync().ConfigureAwait(false);
            }
        }
        if (failures.Count > 0)
        {
            throw failures.Count == 1 ? failures[0] : new AggregateException(failures);
        }
    }
}
