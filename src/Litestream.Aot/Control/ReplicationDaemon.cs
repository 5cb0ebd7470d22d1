using Litestream.Aot.Directories;
using Litestream.Ltx;
using Litestream.Replication;
using Microsoft.Extensions.Logging;

namespace Litestream.Aot.Control;

/// <summary>A control-socket request that failed: the HTTP status and upstream's error text.</summary>
internal sealed class ControlException(int status, string message) : Exception(message)
{
    public int Status { get; } = status;
}

/// <summary>
/// The databases <c>replicate</c> runs, over one <see cref="Store"/> that owns their lifecycle: the daemon keeps the
/// list the control socket shows (stopped ones included) and maps upstream's <c>Store.EnableDB/DisableDB/RegisterDB/
/// UnregisterDB</c> onto <see cref="Store.RegisterAsync"/> and <see cref="Store.UnregisterAsync"/>. Stopping a database
/// unregisters it (final sync and upload, then closed); starting it again registers a fresh <see cref="Db"/> on the
/// same path and replica client.
/// </summary>
internal sealed class ReplicationDaemon : IDisposable
{
    private sealed class Entry(string path, Func<IReadOnlyList<Replica>> create)
    {
        public string Path { get; } = path;
        public Func<IReadOnlyList<Replica>> Create { get; } = create;
        public Replica? Replica { get; set; }
        // The replica of a config database's first run: another process replicating it ends the daemon.
        public Replica? EndsDaemon { get; set; }
        // Why its replication stopped on its own (another process replicates it, its lease was taken over).
        public Exception? Failure { get; set; }
    }

    private readonly ILogger _logger;
    private readonly Func<string, string, Replica> _register;
    private readonly Store _store;
    private readonly CancellationTokenSource _stopStore = new();
    private readonly Task _storeRun;
    private readonly Lock _lock = new();
    // A config database another process replicates (found when it was added): RunAsync ends and throws it.
    private DatabaseLockedException? _refusal;
    private readonly List<Entry> _entries = [];
    // A database of the config that another process replicates ends the daemon, as it would have at start-up.
    private readonly TaskCompletionSource _refused = new(TaskCreationOptions.RunContinuationsAsynchronously);
    // Start, stop, register and unregister one at a time: each waits for a database to open or to flush.
    private readonly SemaphoreSlim _gate = new(1, 1);
    // Set under the gate once shutdown began: a database discovered afterwards is not started.
    private bool _stopping;

    public ReplicationDaemon(StoreOptions storeOptions, CompactionOptions compaction, ILogger logger, Func<string, string, Replica> register)
    {
        _logger = logger;
        _register = register;
        _store = new Store([], storeOptions, logger, compaction);
        _store.DatabaseStopped += OnDatabaseStopped;
        _storeRun = _store.RunAsync(_stopStore.Token);
    }

    /// <summary>Ends the store's run if <see cref="RunAsync"/> never did (the daemon failed to start serving).</summary>
    public void Dispose()
    {
        _stopStore.Cancel();
        _stopStore.Dispose();
    }

    /// <summary>When the daemon started serving (for /info).</summary>
    public DateTimeOffset StartedAt { get; } = DateTimeOffset.UtcNow;

    /// <summary>Number of databases registered (running or stopped).</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>
    /// Adds a database from the config and starts replicating it; returns once it holds its replication lock. One
    /// that another process replicates ends the daemon (see <see cref="RunAsync"/>), as it would have at start-up.
    /// </summary>
    public async Task AddAsync(string path, Func<IReadOnlyList<Replica>> create)
    {
        var entry = new Entry(path, create);
        lock (_lock)
        {
            _entries.Add(entry);
        }
        try
        {
            // Not cancellable: the lock takes milliseconds, and a registered database must reach RunAsync's final sync.
            await LaunchAsync(entry, fromConfig: true, CancellationToken.None).ConfigureAwait(false);
        }
        catch (DatabaseLockedException e)
        {
            // Logged by the store; the daemon ends on it, and RunAsync throws it.
            entry.Failure = e;
            _refusal = e;
            _refused.TrySetResult();
        }
    }

    /// <summary>
    /// Adds a database found in a watched <c>dir:</c> while running and starts replicating it; false when the path is
    /// replicated already (by a <c>path:</c> entry, a registration) or the daemon is stopping. Unlike a database of
    /// the config, one that another process replicates is logged and left alone: it does not end the daemon.
    /// </summary>
    public async Task<bool> AddDiscoveredAsync(string path, Func<IReadOnlyList<Replica>> create, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_stopping || Find(path) is not null)
            {
                return false;
            }
            var entry = new Entry(path, create);
            lock (_lock)
            {
                _entries.Add(entry);
            }
            try
            {
                await LaunchAsync(entry, fromConfig: false, cancellationToken).ConfigureAwait(false);
            }
            catch (DatabaseLockedException)
            {
                // Logged by the store; the entry stays (stopped) so the next event for it does not retry in a loop.
            }
            return true;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Stops replicating a database whose file was deleted (upstream's directory monitor <c>UnregisterDB</c>): the final
    /// sync ships what was captured, the replica is kept, and the entry goes away even when that sync failed (logged),
    /// so a database created again at the path starts afresh.
    /// </summary>
    public async Task RemoveAsync(string path, TimeSpan timeout, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (Find(path) is not { } entry)
            {
                return;
            }
            if (IsRunning(entry))
            {
                try
                {
                    await HaltAsync(entry, timeout, cancellationToken).ConfigureAwait(false);
                }
                catch (ControlException e)
                {
                    _logger.Log(LogLevel.Error, default, $"{path}: removed from replication, but {e.Message}", null, static (s, _) => s);
                }
            }
            lock (_lock)
            {
                _entries.Remove(entry);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Replicates until <paramref name="cancellationToken"/> is cancelled (or a database of the config turns out to be
    /// replicated by another process), then stops every database (final sync each). Returns normally only when
    /// every replica holds what its database committed.
    /// </summary>
    /// <exception cref="DatabaseLockedException">Another process replicates a database of the config.</exception>
    /// <exception cref="ReplicaBehindException">A final sync left a replica behind.</exception>
    /// <exception cref="AggregateException">Several of these.</exception>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        await Task.WhenAny(Task.Delay(Timeout.Infinite, cancellationToken), _refused.Task).ConfigureAwait(false);
        await _gate.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        _stopping = true;
        try
        {
            await _stopStore.CancelAsync().ConfigureAwait(false);
            await _storeRun.ConfigureAwait(false);
        }
        catch (Exception e) when (_refusal is not null)
        {
            throw new AggregateException(_refusal, e);
        }
        finally
        {
            _gate.Release();
        }
        if (_refusal is not null)
        {
            throw _refusal;
        }
    }

    public IReadOnlyList<DatabaseSummary> List()
    {
        HashSet<Replica> running = Running();
        lock (_lock)
        {
            return [.. _entries.Select(e => new DatabaseSummary(
                e.Path,
                e.Replica is { } r && running.Contains(r) ? "replicating" : "stopped",
                e.Replica?.LastSyncAt is { } at ? LitestreamJsonContext.FormatTime(at) : null,
                ReplicasOf(e.Replica)))];
        }
    }

    /// <summary>Every registered database and the state of each of its replicas, for GET /info.</summary>
    public IReadOnlyList<DatabaseReplicas> Replicas()
    {
        lock (_lock)
        {
            return [.. _entries.Select(e => new DatabaseReplicas(e.Path, ReplicasOf(e.Replica)))];
        }
    }

    /// <summary>Each replica of the database <paramref name="primary"/> belongs to (none before its first start).</summary>
    private static List<ReplicaSummary> ReplicasOf(Replica? primary)
        => primary is null ? [] : [.. (primary.Db.Replicas is { Count: > 0 } all ? all : [primary]).Select(r => ReplicaSummary.Of(r.GetStatus()))];

    /// <summary>Every registered database: its path, whether it runs, and its replica (null before its first start).</summary>
    public IReadOnlyList<(string Path, bool Running, Replica? Replica)> Databases()
    {
        HashSet<Replica> running = Running();
        lock (_lock)
        {
            return [.. _entries.Select(e => (e.Path, e.Replica is { } r && running.Contains(r), e.Replica))];
        }
    }

    /// <summary>The store's events (see <see cref="Store.SubscribeEvents"/>), for <c>GET /events</c>.</summary>
    public Events.ReplicationEventSubscription SubscribeEvents(int capacity) => _store.SubscribeEvents(capacity);

    private HashSet<Replica> Running() => new(_store.Replicas, ReferenceEqualityComparer.Instance);

    private bool IsRunning(Entry entry) => entry.Replica is { } replica && _store.Replicas.Contains(replica);

    public ulong Txid(string path) => Find(path) is { } entry ? TxidOf(entry) : throw NotFound(path);

    /// <summary>
    /// How far the replicas of <paramref name="path"/> are behind it (GET /lag): every replica must hold a TXID for it
    /// to count as replicated; while behind, the time since the slowest replica's last successful pass (it held
    /// everything then).
    /// </summary>
    public LagResponse Lag(string path)
    {
        Entry entry = Find(path) ?? throw NotFound(path);
        if (entry.Replica is not { } replica || !IsRunning(entry))
        {
            throw new ControlException(409, $"database not open: {path}");
        }
        IReadOnlyList<Replica> all = replica.Db.Replicas.Count > 0 ? replica.Db.Replicas : [replica];
        ulong local = replica.Db.Txid.Value;
        ulong replicated = all.Min(r => r.RemoteTxid?.Value ?? 0);
        ulong behind = local > replicated ? local - replicated : 0;
        DateTimeOffset? since = all.Any(r => r.LastSyncAt is null) ? null : all.Min(r => r.LastSyncAt);
        double? seconds = behind == 0 ? 0 : since is { } at ? Math.Round(Math.Max(0, (DateTimeOffset.UtcNow - at).TotalSeconds), 3) : null;
        return new LagResponse(path, local, replicated, behind, seconds);
    }

    /// <summary>Resumes replication of a stopped database (upstream <c>EnableDB</c>).</summary>
    public Task<StartStopResponse> StartAsync(string path, TimeSpan timeout, CancellationToken cancellationToken)
        => SetRunningAsync(path, run: true, timeout, cancellationToken);

    /// <summary>Pauses replication of a database after its final sync and upload (upstream <c>DisableDB</c>).</summary>
    public Task<StartStopResponse> StopAsync(string path, TimeSpan timeout, CancellationToken cancellationToken)
        => SetRunningAsync(path, run: false, timeout, cancellationToken);

    private async Task<StartStopResponse> SetRunningAsync(string path, bool run, TimeSpan timeout, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Entry entry = Find(path) ?? throw NotFound(path);
            if (IsRunning(entry) == run)
            {
                return new StartStopResponse(run ? "already_running" : "already_stopped", path, TxidOf(entry));
            }
            if (run)
            {
                await LaunchForRequestAsync(entry, cancellationToken).ConfigureAwait(false);
                await WaitOpenAsync(entry, timeout, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await HaltAsync(entry, timeout, cancellationToken).ConfigureAwait(false);
            }
            return new StartStopResponse(run ? "started" : "stopped", path, TxidOf(entry));
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task<RegisterResponse> RegisterAsync(string path, string replicaUrl, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (Find(path) is not null)
            {
                return new RegisterResponse("already_registered", path);
            }
            RequireSqliteOrMissing(path);
            Replica first = _register(path, replicaUrl);
            Replica? pending = first;
            var entry = new Entry(path, () =>
            {
                // The first run uses the replica built (and validated) above; restarts build a fresh one.
                Replica replica = pending ?? _register(path, replicaUrl);
                pending = null;
                return [replica];
            });
            lock (_lock)
            {
                _entries.Add(entry);
            }
            // Like upstream, registering does not wait for the database to open: it may not exist yet, and the
            // daemon opens it when it appears. It waits for the replication lock, which comes first.
            try
            {
                await LaunchForRequestAsync(entry, cancellationToken).ConfigureAwait(false);
            }
            catch (ControlException)
            {
                lock (_lock)
                {
                    _entries.Remove(entry);
                }
                throw;
            }
            return new RegisterResponse("registered", path);
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task<UnregisterResponse> UnregisterAsync(string path, TimeSpan timeout, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (Find(path) is not { } entry)
            {
                return new UnregisterResponse("already_unregistered", path, 0);
            }
            if (IsRunning(entry))
            {
                await HaltAsync(entry, timeout, cancellationToken).ConfigureAwait(false);
            }
            lock (_lock)
            {
                _entries.Remove(entry);
            }
            return new UnregisterResponse("unregistered", path, TxidOf(entry));
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Captures the WAL now (upstream <c>Store.SyncDB</c>). With <paramref name="wait"/> it answers only once the
    /// replica holds every transaction captured by then (retrying failed uploads), or fails after
    /// <paramref name="timeout"/> saying which transactions did not reach the replica.
    /// </summary>
    public async Task<SyncResponse> SyncAsync(string path, bool wait, TimeSpan timeout, CancellationToken cancellationToken)
    {
        Entry entry = Find(path) ?? throw NotFound(path);
        Replica? replica = entry.Replica;
        if (!IsRunning(entry) || replica is null || !replica.Db.IsOpen)
        {
            throw new ControlException(409, $"database not open: {path}");
        }
        bool changed = replica.Db.Sync();
        if (!wait)
        {
            return new SyncResponse(changed ? "synced_local" : "no_change", path, replica.Db.Txid.Value, replica.RemoteTxid?.Value ?? 0);
        }
        // Every replica of the database must hold it: each uploads at once; one that does not is named in the failure.
        IReadOnlyList<Replica> all = replica.Db.Replicas.Count > 0 ? replica.Db.Replicas : [replica];
        Task<Txid>[] uploads = [.. all.Select(r => UploadAsync(r, timeout, cancellationToken))];
        try
        {
            await Task.WhenAll(uploads).ConfigureAwait(false);
        }
        catch (ControlException) when (uploads.Count(u => u.IsFaulted) > 1)
        {
            throw new ControlException(500, string.Join("; ", uploads.Where(u => u.IsFaulted).Select(u => u.Exception!.InnerException!.Message)));
        }
        Txid target = uploads.Min(u => u.Result);
        return new SyncResponse(changed ? "synced" : "no_change", path, target.Value, all.Min(r => r.RemoteTxid?.Value ?? 0));
    }

    /// <summary>Uploads until the replica holds what the database captured, retrying failures until <paramref name="timeout"/>.</summary>
    private static async Task<Txid> UploadAsync(Replica replica, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        Txid target = replica.Db.Txid;
        string? lastError = null;
        TimeSpan retry = TimeSpan.FromMilliseconds(250);
        while (true)
        {
            try
            {
                return await replica.SyncToAsync(deadline.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                lastError = e.Message;
                replica.InvalidateRemotePosition();
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                break;
            }
            try
            {
                await Task.Delay(retry, deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                break;
            }
            retry = TimeSpan.FromTicks(Math.Min(retry.Ticks * 2, TimeSpan.FromSeconds(2).Ticks));
        }
        string reason = $"not done within {GoDuration.Format(timeout)}" + (lastError is null ? "" : $"; last error: {lastError}");
        throw new ControlException(500, replica.Behind(target, reason).Message);
    }

    /// <summary>
    /// Refuses a path that cannot be a database, so /list never says "replicating" while every sync fails. A missing
    /// or empty file is accepted, as upstream does: the database may be created after it is registered.
    /// </summary>
    private static void RequireSqliteOrMissing(string path)
    {
        switch (SqliteHeader.Probe(path, out string? error))
        {
            case SqliteFileKind.Unreadable:
                throw new ControlException(400, $"cannot read database {path}: {error}");
            case SqliteFileKind.NotDatabase when error is not null:
                throw new ControlException(400, $"not a regular file: {path}");
            case SqliteFileKind.NotDatabase:
                throw new ControlException(400, $"not a SQLite database: {path} (it does not start with the SQLite header)");
        }
    }

    private Entry? Find(string path)
    {
        lock (_lock)
        {
            return _entries.Find(e => string.Equals(e.Path, path, StringComparison.Ordinal));
        }
    }

    private static ulong TxidOf(Entry entry) => entry.Replica?.Db.Txid.Value ?? 0;

    private static ControlException NotFound(string path) => new(404, $"database not found: {path}");

    /// <summary>Registers a fresh replica of <paramref name="entry"/> with the store; returns once it holds its replication lock.</summary>
    /// <exception cref="DatabaseLockedException">Another process replicates it.</exception>
    private async Task LaunchAsync(Entry entry, bool fromConfig, CancellationToken cancellationToken)
    {
        IReadOnlyList<Replica> replicas = entry.Create();
        Replica replica = replicas[0];
        entry.Replica = replica;
        entry.Failure = null;
        entry.EndsDaemon = fromConfig ? replica : null;
        if (!await _store.RegisterReplicasAsync(replicas, cancellationToken).ConfigureAwait(false))
        {
            throw new ControlException(409, $"database {entry.Path} is still stopping (its final sync continues); try again");
        }
    }

    /// <summary><see cref="LaunchAsync"/> for a control request: a database another process replicates is the request's failure.</summary>
    private async Task LaunchForRequestAsync(Entry entry, CancellationToken cancellationToken)
    {
        try
        {
            await LaunchAsync(entry, fromConfig: false, cancellationToken).ConfigureAwait(false);
        }
        catch (DatabaseLockedException e)
        {
            throw new ControlException(423, e.Message);
        }
    }

    /// <summary>A database whose replication stopped on its own: remembered for the control socket; a config database's ends the daemon.</summary>
    private void OnDatabaseStopped(object? sender, DatabaseStoppedEventArgs e)
    {
        Entry? entry;
        lock (_lock)
        {
            entry = _entries.Find(x => ReferenceEquals(x.Replica, e.Replica));
        }
        if (entry is null)
        {
            return;
        }
        entry.Failure = e.Reason;
        if (ReferenceEquals(entry.EndsDaemon, e.Replica) && e.Reason is DatabaseLockedException or Lease.LeaseException)
        {
            _refused.TrySetResult();
        }
    }

    private async Task HaltAsync(Entry entry, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            await _store.UnregisterAsync(entry.Path, deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ControlException(500, $"database {entry.Path} did not stop within {GoDuration.Format(timeout)}; its final sync continues in the background");
        }
        catch (Exception e) when (e is ReplicaBehindException or IOException)
        {
            // Stopped, but its replica lacks transactions (or it could not be opened): the caller must not read this as success.
            throw new ControlException(500, e.Message);
        }
    }

    private static void ThrowIfRefused(Entry entry)
    {
        if (entry.Failure is DatabaseLockedException locked)
        {
            throw new ControlException(423, locked.Message);
        }
    }

    /// <summary>
    /// Waits until the database is open (its position loaded), so the reply can carry its TXID; returns at once
    /// when the file does not exist (the daemon waits for it, as at start-up).
    /// </summary>
    private async Task WaitOpenAsync(Entry entry, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        while (entry.Replica is { Db.IsOpen: false } && IsRunning(entry) && File.Exists(entry.Path))
        {
            try
            {
                await Task.Delay(20, deadline.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // Not open yet (the file may not exist): the daemon keeps trying, as it does at start-up.
                return;
            }
        }
        ThrowIfRefused(entry);
    }
}
