using System.Diagnostics;
using Litestream.Events;
using Litestream.Lease;
using Litestream.Logging;
using Litestream.Metrics;
using Litestream.Ltx;
using Litestream.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Litestream.Replication;

/// <summary>Settings shared by every database in a <see cref="Store"/>.</summary>
public sealed record StoreOptions
{
    /// <summary>How long the final sync and upload may take on shutdown (30 s).</summary>
    public TimeSpan ShutdownSyncTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Pause between final upload attempts on shutdown (500 ms).</summary>
    public TimeSpan ShutdownSyncInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Longest backoff after repeated failures (5 min, as upstream).</summary>
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Delay after a WAL change notification that follows a quiet gap (see <see cref="BurstWindow"/>) before
    /// syncing, so the few writes of one commit become one file (20 ms).
    /// </summary>
    public TimeSpan ChangeDebounce { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary>
    /// A change arriving within this time of the last L0 file means commits keep coming: the next file then
    /// waits until one monitor interval (<see cref="DbOptions.MonitorInterval"/>) after the last, so a busy
    /// writer ships one file per interval, as upstream does. A change after a longer gap is synced after
    /// <see cref="ChangeDebounce"/>, so a lone commit reaches the replica in tens of milliseconds (250 ms).
    /// </summary>
    public TimeSpan BurstWindow { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// How many compaction passes (a level's merge, a level-9 snapshot, retention) run at once across every database of
    /// the store (the processor count, at least 2): their ticks fall on the same wall-clock multiples for every database.
    /// </summary>
    public int MaxConcurrentCompactions { get; init; } = Math.Max(2, Environment.ProcessorCount);
}

/// <summary>
/// Runs replication for a set of databases (upstream <c>Store</c>): per database one monitor loop
/// (woken by a one-shot inotify watch on the WAL, <see cref="WalWatch"/>, with the monitor interval as
/// fallback) and one upload loop. Async loops, not a thread per database. Errors are logged, counted
/// and retried with exponential backoff; nothing stops silently.
/// </summary>
/// <remarks>
/// Two ways to run it: <see cref="OpenAsync"/> … <see cref="CloseAsync"/> (or <c>await using</c>) replicates
/// in the background while the application works (upstream <c>Store.Open</c>/<c>Close</c>), and
/// <see cref="RunAsync"/> replicates until its token is cancelled. Either way the end is one last bounded
/// sync and upload, then every <see cref="Db"/> is closed. The store does not own the replica clients.
/// Databases join and leave while it runs (upstream <c>RegisterDB</c>/<c>UnregisterDB</c>): <see cref="RegisterAsync"/>
/// starts one, <see cref="UnregisterAsync"/> gives one its final sync and closes it while the others replicate on.
/// </remarks>
public sealed class Store : IAsyncDisposable
{
    /// <summary>Monitor intervals a watched, quiet database sleeps at most (see <see cref="QuietWait"/>).</summary>
    private const int QuietChecks = 10;

    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    // Shared by every compactor of the store (StoreOptions.MaxConcurrentCompactions); never disposed, it has no wait handle.
    private readonly SemaphoreSlim _compactionGate;
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

    private async Task RunDatabaseAsync(Replica replica, CancellationToken cancellationToken)
    {
        Db db = replica.Db;
        try
        {
            // Before anything touches the meta directory (the health file, temp files): it may be another process's.
            db.Lock();
        }
        catch (DatabaseLockedException e)
        {
            Interlocked.Increment(ref _errorCount);
            Log.NotReplicating(_logger, e.Message);
            throw;
        }
        Exception? notReplicated = null;
        LeaseException? leaseFailure = null;
        foreach (Replica r in ReplicasOf(replica))
        {
            r.Events = _events; // each may confirm a TXID first: Db.TryAnnounce keeps one tx event per TXID
        }
        using var changed = new SemaphoreSlim(0, 1);
        // One upload loop per replica, each with its own wake-up, position and backoff: a slow one delays nobody.
        Uploader[] uploaders = [.. ReplicasOf(replica).Select(r => new Uploader(r))];
        using WalWatch? watch = Watch(db, changed);
        using var health = new ReplicationHealth(db.MetaPath, replica.Options.SyncInterval);
        // Ends this database's loops when its lease is taken over (the caller's token ends them on shutdown).
        using var running = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            foreach (Uploader uploader in uploaders)
            {
                uploader.Replica.StartedAt = DateTimeOffset.UtcNow;
                uploader.Replica.LastError = null;
                health.Track(uploader.Replica.Name, uploader.Replica.Client.Type);
                LitestreamMetrics.Track(uploader.Replica);
            }
            await WaitAndOpenAsync(replica, health, running.Token).ConfigureAwait(false);
            var loops = new List<Task>();
            foreach (Replica r in ReplicasOf(replica))
            {
                loops.Add(r.Lease is { } held ? RenewLeaseAsync(held, running, e => leaseFailure = e) : Task.CompletedTask);
                loops.Add((r.Options.Compaction ?? Compaction) is { } compaction ? new Compactor(r, compaction, _logger, _compactionGate).RunAsync(running.Token) : Task.CompletedTask);
                loops.Add(r.Options.ValidationInterval > TimeSpan.Zero ? ValidationLoopAsync(r, running.Token) : Task.CompletedTask);
            }
            loops.AddRange(uploaders.Select(u => UploadLoopAsync(u, uploaders, health, running.Token)));
            await MonitorLoopAsync(db, uploaders, watch, health, changed, running.Token).ConfigureAwait(false);
            foreach (Task loop in loops)
            {
                await loop.ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (running.IsCancellationRequested)
        {
        }
        catch (LeaseException e)
        {
            leaseFailure = e;
        }
        finally
        {
            notReplicated = await ShutdownAsync(replica, leaseFailure).ConfigureAwait(false);
            foreach (Uploader uploader in uploaders)
            {
                LitestreamMetrics.Untrack(uploader.Replica);
                uploader.Dispose();
            }
        }
        if (leaseFailure is not null)
        {
            Interlocked.Increment(ref _errorCount);
            PublishLease(replica, isPrimary: false, leaseFailure.Message);
            Log.NotReplicating(_logger, leaseFailure.Message);
            throw leaseFailure;
        }
        if (notReplicated is not null)
        {
            throw notReplicated;
        }
    }

    /// <summary>Renews the lease until the database stops; a takeover by another holder stops the database.</summary>
    private static async Task RenewLeaseAsync(ReplicaLease lease, CancellationTokenSource running, Action<LeaseException> lost)
    {
        try
        {
            await lease.RenewLoopAsync(running.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (running.IsCancellationRequested)
        {
        }
        catch (LeaseException e)
        {
            lost(e);
            await running.CancelAsync().ConfigureAwait(false);
        }
    }

    private async Task WaitAndOpenAsync(Replica replica, ReplicationHealth health, CancellationToken cancellationToken)
    {
        TimeSpan delay = replica.Db.Options.MonitorInterval;
        bool waitingLogged = false;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                await OpenReplicaAsync(replica, cancellationToken).ConfigureAwait(false);
                health.SyncSucceeded();
                ReportPosition(replica.Db, health);
                return;
            }
            catch (FileNotFoundException) when (!File.Exists(replica.Db.Path))
            {
                if (!waitingLogged)
                {
                    Log.Info(_logger, replica.Db.Path, "database does not exist yet; waiting for it");
                    waitingLogged = true;
                }
                await Task.Delay(replica.Db.Options.MonitorInterval, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException and not LeaseException)
            {
                Interlocked.Increment(ref _errorCount);
                string error = e is LocalStateException local ? $"{e.Message} (hint: {local.Hint})" : e.Message;
                LogSyncFailure(replica.Db.Path, delay, e, error);
                health.SyncFailed(error);
                PublishError(replica.Db.Path, error);
                replica.Db.Close(); // keeps the replication lock for the retry
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                delay = Backoff(delay);
            }
        }
    }

    /// <summary>Opens the database (resetting damaged local state when the replica auto-recovers) and reconciles with the replica.</summary>
    private async Task OpenReplicaAsync(Replica replica, CancellationToken cancellationToken)
    {
        IReadOnlyList<Replica> all = ReplicasOf(replica);
        if (replica.Db.IsOpen && all.Any(r => r.RemoteTxid is not null))
        {
            return; // opened by OpenAsync or SyncAsync before the loop started
        }
        foreach (Replica r in all)
        {
            if (r.Lease is { } lease)
            {
                long generation = lease.Generation;
                await lease.AcquireAsync(cancellationToken).ConfigureAwait(false); // before anything can be uploaded
                if (lease.Generation != generation)
                {
                    PublishLease(r, isPrimary: true, null);
                }
            }
        }
        try
        {
            replica.Db.Open();
        }
        catch (LocalStateException e) when (replica.Options.AutoRecover)
        {
            Interlocked.Increment(ref _errorCount);
            Log.Warning(_logger, replica.Db.Path, $"{e.Message}; auto-recover: resetting local state, the next sync writes a snapshot");
            replica.Db.ResetLocalState();
            replica.Db.Open();
        }
        if (all.Count == 1)
        {
            await replica.ReconcileAsync(cancellationToken).ConfigureAwait(false);
            return;
        }
        // Several replicas: one that cannot be reached now is left to its upload loop (it reconciles before its first
        // upload); the database opens as long as one answers.
        Exception? firstFailure = null;
        foreach (Replica r in all)
        {
            try
            {
                await r.ReconcileAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException and not LeaseException)
            {
                Interlocked.Increment(ref _errorCount);
                firstFailure ??= e;
                r.InvalidateRemotePosition();
                Log.ReplicaFailed(_logger, r.Name, r.Db.Path, "its upload loop", e.Message);
            }
        }
        if (all.All(r => r.RemoteTxid is null) && firstFailure is not null)
        {
            throw firstFailure;
        }
    }

    private async Task MonitorLoopAsync(Db db, Uploader[] uploaders, WalWatch? watch, ReplicationHealth health, SemaphoreSlim changed, CancellationToken cancellationToken)
    {
        TimeSpan failureDelay = TimeSpan.Zero;
        int failures = 0;
        long lastFileAt = 0;
        bool armed = false;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                // Armed before the WAL is read: a commit that lands after this point wakes the loop again, one that
                // landed before is in this capture. The watch fires once, so a busy writer costs one event per pass.
                armed = watch?.Arm() ?? false;
                bool wrote = db.Sync();
                Txid synced = db.Txid;
                if (db.CheckpointIfNeeded())
                {
                    // The checkpoint captured up to its barrier and may have written our own row, which fired the watch.
                    // Commits since are left to the next pass, spaced like any change: re-arm, and count them as one
                    // (at worst a pass that finds nothing).
                    armed = watch?.Arm() ?? false;
                    wrote |= db.Txid > synced;
                    Release(changed);
                }
                if (wrote)
                {
                    lastFileAt = Stopwatch.GetTimestamp();
                }
                foreach (Uploader uploader in uploaders)
                {
                    if (wrote || !(uploader.Replica.RemoteTxid >= db.Txid))
                    {
                        Release(uploader.Signal);
                    }
                }
                if (failures > 0)
                {
                    Log.SyncRecovered(_logger, db.Path, failures);
                    health.SyncSucceeded();
                }
                failures = 0;
                failureDelay = TimeSpan.Zero;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                Interlocked.Increment(ref _errorCount);
                failures++;
                failureDelay = failureDelay == TimeSpan.Zero ? db.Options.MonitorInterval : Backoff(failureDelay);
                LogSyncFailure(db.Path, failureDelay, e, e.Message);
                health.SyncFailed(e.Message);
                PublishError(db.Path, e.Message);
                await Task.Delay(failureDelay, cancellationToken).ConfigureAwait(false);
                continue;
            }
            // Sleep until the WAL changes or the monitor interval passes, whichever is first; while the WAL is watched
            // a quiet database is not looked at every interval (the watch fires on its next write), only when a
            // time-based checkpoint falls due and every QuietChecks intervals as a backstop. A change after a quiet
            // gap is synced after the debounce, so a lone commit reaches the replica in tens of milliseconds. A change
            // within the burst window of the last file means commits keep coming: the next file then waits for one
            // monitor interval after the last, as upstream's ticker spaces them, because every file is one upload
            // (one PUT on object storage) and a busy writer must not turn into 50 requests a second.
            if (await changed.WaitAsync(armed ? QuietWait(db) : db.Options.MonitorInterval, cancellationToken).ConfigureAwait(false))
            {
                TimeSpan sinceFile = lastFileAt == 0 ? TimeSpan.MaxValue : Stopwatch.GetElapsedTime(lastFileAt);
                TimeSpan delay = sinceFile < Options.BurstWindow ? db.Options.MonitorInterval - sinceFile : TimeSpan.Zero;
                await Task.Delay(delay > Options.ChangeDebounce ? delay : Options.ChangeDebounce, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Validates the replica every <see cref="ReplicaOptions.ValidationInterval"/> (results are logged and counted there).</summary>
    private static async Task ValidationLoopAsync(Replica replica, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(replica.Options.ValidationInterval);
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
        {
            if (replica.Db.IsOpen)
            {
                await replica.ValidateAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// How long a watched, quiet database sleeps: until its time-based checkpoint is due, at least one monitor
    /// interval and at most <see cref="QuietChecks"/> of them (a backstop against a change notification lost in
    /// a way not foreseen here). Waking every interval to find nothing cost an idle replicator a timer, a
    /// thread-pool worker and the pool's gate thread each second.
    /// </summary>
    private static TimeSpan QuietWait(Db db)
    {
        TimeSpan interval = db.Options.MonitorInterval;
        TimeSpan longest = interval * QuietChecks;
        return db.CheckpointDueIn is { } due ? (due < interval ? interval : due > longest ? longest : due) : longest;
    }

    private async Task UploadLoopAsync(Uploader uploader, Uploader[] all, ReplicationHealth health, CancellationToken cancellationToken)
    {
        Replica replica = uploader.Replica;
        TimeSpan failureDelay = TimeSpan.Zero;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await replica.SyncAsync(cancellationToken).ConfigureAwait(false);
                replica.LastError = null;
                health.ReplicaSucceeded(replica.Name, replica.Client.Type);
                ReportPosition(replica.Db, health);
                if (uploader.Failures > 0)
                {
                    Log.ReplicaRecovered(_logger, ReplicaLabel(replica), replica.Db.Path, uploader.Failures);
                    uploader.Failures = 0;
                    if (all.All(u => u.Failures == 0))
                    {
                        health.UploadSucceeded();
                    }
                }
                failureDelay = TimeSpan.Zero;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                Interlocked.Increment(ref _errorCount);
                uploader.Failures++;
                failureDelay = failureDelay == TimeSpan.Zero ? replica.Options.SyncInterval : Backoff(failureDelay);
                replica.InvalidateRemotePosition();
                Log.ReplicaFailed(_logger, ReplicaLabel(replica), replica.Db.Path, GoDuration.Format(failureDelay), e.Message);
                health.UploadFailed($"replica {ReplicaLabel(replica)}: {e.Message}");
                replica.LastError = Redaction.Apply(e.Message);
                health.ReplicaFailed(replica.Name, replica.Client.Type, e.Message);
                PublishError(replica.Db.Path, $"replica {ReplicaLabel(replica)}: {e.Message}");
                await Task.Delay(failureDelay, cancellationToken).ConfigureAwait(false);
                continue;
            }
            // No timer: an idle replica wakes nobody. The monitor loop signals after every pass that leaves a file
            // unsent, whoever wrote it (its own capture, a checkpoint, a level-9 snapshot).
            await uploader.Signal.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private static string ReplicaLabel(Replica replica) => replica.Label;

    /// <summary>One replica's upload loop state: its wake-up and its failures in a row.</summary>
    private sealed class Uploader(Replica replica) : IDisposable
    {
        public Replica Replica { get; } = replica;
        public SemaphoreSlim Signal { get; } = new(0, 1);
        public int Failures { get; set; }
        public void Dispose() => Signal.Dispose();
    }

    /// <summary>
    /// Tells <c>status</c> what the replicas now hold (the slowest of them), so it can tell replication that keeps up
    /// from one that does not.
    /// </summary>
    private static void ReportPosition(Db db, ReplicationHealth health)
    {
        Txid? slowest = null;
        bool all = true;
        foreach (Replica replica in db.Replicas)
        {
            if (replica.RemoteTxid is not { } txid)
            {
                all = false;
                continue;
            }
            health.ReplicaReplicated(replica.Name, replica.Client.Type, txid);
            slowest = slowest is { } s && s < txid ? s : txid;
        }
        if (!all)
        {
            return;
        }
        if (slowest is { } position)
        {
            health.Replicated(position);
        }
    }

    /// <summary>
    /// The last sync and upload, bounded by <see cref="StoreOptions.ShutdownSyncTimeout"/>, then the database is closed.
    /// Returns what did not reach the replica (logged as an error): a <see cref="ReplicaBehindException"/>, or, when
    /// the database could not even be opened, an <see cref="IOException"/> saying why; null when the replica holds everything.
    /// </summary>
    private async Task<Exception?> ShutdownAsync(Replica replica, LeaseException? leaseFailure)
    {
        Db db = replica.Db;
        if (leaseFailure is not null)
        {
            // Not this process's replica (any more): nothing may be uploaded; the local state stays for whoever needs it.
            await db.DisposeAsync().ConfigureAwait(false);
            return null;
        }
        using var timeout = new CancellationTokenSource(Options.ShutdownSyncTimeout);
        string? failure = null;
        Exception? openError = null;
        if (!db.IsOpen && File.Exists(db.Path))
        {
            // The database appeared after the last open attempt (an embedding app created it and stopped within
            // one monitor interval), or opening it kept failing: its commits still deserve the final sync.
            try
            {
                await OpenReplicaAsync(replica, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                Interlocked.Increment(ref _errorCount);
                openError = e;
                failure = $"could not open the database for the final sync: {e.Message}";
            }
            catch (OperationCanceledException e)
            {
                openError = e;
                failure = "opening the database for the final sync timed out";
            }
        }
        var behind = new List<Exception>();
        if (db.IsOpen)
        {
            // Every replica at once, each with its own retries, within the one shutdown timeout.
            string?[] failures = await Task.WhenAll(ReplicasOf(replica).Select(r => FinalSyncAsync(r, timeout.Token))).ConfigureAwait(false);
            foreach ((Replica r, string? f) in ReplicasOf(replica).Zip(failures))
            {
                if (f is not null)
                {
                    behind.Add(r.Behind(db.Txid, $"the final sync gave up after {GoDuration.Format(Options.ShutdownSyncTimeout)}: {f}"));
                }
            }
        }
        Exception? notReplicated = behind.Count > 0 ? (behind.Count == 1 ? behind[0] : new AggregateException(behind))
            : failure is null || db.IsOpen ? null
            : new IOException($"{db.Path}: not replicated: {failure}", openError);
        foreach (Exception e in behind.Count > 0 ? behind : notReplicated is null ? [] : [notReplicated])
        {
            Log.FinalSyncFailed(_logger, e.Message);
        }
        await ReleaseLeasesAsync(replica).ConfigureAwait(false);
        await db.DisposeAsync().ConfigureAwait(false);
        return notReplicated;
    }

    /// <summary>One replica's part of the final sync: retried until it holds everything or the timeout; null on success, else why not.</summary>
    private async Task<string?> FinalSyncAsync(Replica replica, CancellationToken timeout)
    {
        string? failure = null;
        while (true)
        {
            try
            {
                replica.Db.Sync();
                await replica.SyncAsync(timeout).ConfigureAwait(false);
                return null;
            }
            catch (Exception e) when (!timeout.IsCancellationRequested)
            {
                Interlocked.Increment(ref _errorCount);
                replica.InvalidateRemotePosition();
                failure = e.Message;
                Log.ReplicaFailed(_logger, ReplicaLabel(replica), replica.Db.Path, GoDuration.Format(Options.ShutdownSyncInterval), e.Message);
                try
                {
                    await Task.Delay(Options.ShutdownSyncInterval, timeout).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return failure;
                }
            }
            catch (OperationCanceledException)
            {
                return failure is null ? "timed out" : $"timed out; last error: {failure}";
            }
        }
    }

    private async Task ReleaseLeasesAsync(Replica primary)
    {
        foreach (Replica replica in ReplicasOf(primary))
        {
            if (replica.Lease is { } lease)
            {
                using var releasing = new CancellationTokenSource(lease.Options.RenewInterval);
                await lease.ReleaseAsync(releasing.Token).ConfigureAwait(false);
                PublishLease(replica, isPrimary: false, "released: replication of the database stopped");
            }
        }
    }

    /// <summary>This process took (<paramref name="isPrimary"/>) or lost/released the database's lease.</summary>
    private void PublishLease(Replica replica, bool isPrimary, string? reason)
        => _events.Publish(new ReplicationEvent(ReplicationEventKind.PrimaryChange, replica.Db.Path)
        {
            IsPrimary = isPrimary,
            Host = Environment.MachineName,
            Pid = Environment.ProcessId,
            Generation = replica.Lease?.Generation ?? 0,
            Message = reason,
        });

    private void PublishError(string db, string message)
        => _events.Publish(new ReplicationEvent(ReplicationEventKind.Error, db) { Message = message });

    private WalWatch? Watch(Db db, SemaphoreSlim changed)
    {
        WalWatch? watch = WalWatch.TryCreate(db.WalPath, () => Release(changed), out string? error);
        if (watch is null)
        {
            // No inotify (another OS, limits reached): the monitor interval still drives syncs.
            Log.Warning(_logger, db.Path, $"change notifications unavailable ({error}); polling every {GoDuration.Format(db.Options.MonitorInterval)}");
        }
        return watch;
    }

    /// <summary>A busy database is contention that passes (a warning); anything else is an error. Both are retried.</summary>
    private void LogSyncFailure(string path, TimeSpan delay, Exception e, string error)
    {
        if (DbConnections.IsBusy(e))
        {
            Log.SyncBusy(_logger, path, GoDuration.Format(delay), error);
        }
        else
        {
            Log.SyncFailed(_logger, path, GoDuration.Format(delay), error);
        }
    }

    private static void Release(SemaphoreSlim semaphore)
    {
        try
        {
            semaphore.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already signalled: one wake-up covers any number of changes.
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private TimeSpan Backoff(TimeSpan delay)
    {
        TimeSpan next = delay * 2;
        return next > Options.MaxBackoff ? Options.MaxBackoff : next;
    }
}
