using Litestream.Aot.Directories;
using Litestream.Internal;
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
/// The databases <c>replicate</c> runs, each in its own <see cref="Store"/> so one can be stopped, started,
/// added or removed while the others keep replicating (upstream <c>Store.EnableDB/DisableDB/RegisterDB/
/// UnregisterDB</c>). Stopping a database cancels its loops, which run the final sync and upload and close it;
/// starting it again opens a fresh <see cref="Db"/> on the same path and replica client.
/// </summary>
internal sealed class ReplicationDaemon(StoreOptions storeOptions, CompactionOptions compaction, ILogger logger, Func<string, string, Replica> register)
{
    private sealed class Entry(string path, Func<Replica> create)
    {
        public string Path { get; } = path;
        public Func<Replica> Create { get; } = create;
        public Replica? Replica { get; set; }
        public Task? Run { get; set; }
        public CancellationTokenSource? Stop { get; set; }
        public bool Running => Run is { IsCompleted: false };
    }

    private readonly Lock _lock = new();
    private readonly List<Entry> _entries = [];
    // A database of the config that another process replicates ends the daemon, as it would have at start-up.
    private readonly TaskCompletionSource _refused = new(TaskCreationOptions.RunContinuationsAsynchronously);
    // Start, stop, register and unregister one at a time: each waits for a database to open or to flush.
    private readonly SemaphoreSlim _gate = new(1, 1);
    // Set under the gate once shutdown began: a database discovered afterwards is not started.
    private bool _stopping;

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

    /// <summary>Adds a database from the config and starts replicating it.</summary>
    public void Add(string path, Func<Replica> create)
    {
        var entry = new Entry(path, create);
        lock (_lock)
        {
            _entries.Add(entry);
        }
        Launch(entry, fromConfig: true);
    }

    /// <summary>
    /// Adds a database found in a watched <c>dir:</c> while running and starts replicating it; false when the path is
    /// replicated already (by a <c>path:</c> entry, a registration) or the daemon is stopping. Unlike a database of
    /// the config, one that another process replicates is logged and left alone: it does not end the daemon.
    /// </summary>
    public async Task<bool> AddDiscoveredAsync(string path, Func<Replica> create, CancellationToken cancellationToken)
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
            Launch(entry, fromConfig: false);
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
            if (entry.Running)
            {
                try
                {
                    await HaltAsync(entry, timeout, cancellationToken).ConfigureAwait(false);
                }
                catch (ControlException e)
                {
                    logger.Log(LogLevel.Error, default, $"{path}: removed from replication, but {e.Message}", null, static (s, _) => s);
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
        Task all;
        try
        {
            Entry[] entries;
            lock (_lock)
            {
                entries = [.. _entries];
            }
            foreach (Entry entry in entries)
            {
                entry.Stop?.Cancel();
            }
            all = Task.WhenAll(entries.Select(e => e.Run ?? Task.CompletedTask));
            try
            {
                await all.ConfigureAwait(false);
            }
            catch (Exception) when (all.Exception is not null)
            {
            }
        }
        finally
        {
            _gate.Release();
        }
        if (all.Exception is { } failed)
        {
            throw failed.InnerExceptions.Count == 1 ? failed.InnerExceptions[0] : failed.Flatten();
        }
    }

    public IReadOnlyList<DatabaseSummary> List()
    {
        lock (_lock)
        {
            return [.. _entries.Select(e => new DatabaseSummary(
                e.Path,
                e.Running ? "replicating" : "stopped",
                e.Replica?.LastSyncAt is { } at ? ControlJsonContext.FormatTime(at) : null))];
        }
    }

    /// <summary>Every registered database: its path, whether it runs, and its replica (null before its first start).</summary>
    public IReadOnlyList<(string Path, bool Running, Replica? Replica)> Databases()
    {
        lock (_lock)
        {
            return [.. _entries.Select(e => (e.Path, e.Running, e.Replica))];
        }
    }

    public ulong Txid(string path) => Find(path) is { } entry ? TxidOf(entry) : throw NotFound(path);

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
            if (entry.Running == run)
            {
                return new StartStopResponse(run ? "already_running" : "already_stopped", path, TxidOf(entry));
            }
            if (run)
            {
                Launch(entry, fromConfig: false);
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
            Replica first = register(path, replicaUrl);
            Replica? pending = first;
            var entry = new Entry(path, () =>
            {
                // The first run uses the replica built (and validated) above; restarts build a fresh one.
                Replica replica = pending ?? register(path, replicaUrl);
                pending = null;
                return replica;
            });
            lock (_lock)
            {
                _entries.Add(entry);
            }
            // Like upstream, registering does not wait for the database to open: it may not exist yet, and the
            // daemon opens it when it appears. It waits for the replication lock, which comes first.
            Launch(entry, fromConfig: false);
            try
            {
                await WaitLockedAsync(entry, cancellationToken).ConfigureAwait(false);
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
            if (entry.Running)
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
        if (!entry.Running || replica is null || !replica.Db.IsOpen)
        {
            throw new ControlException(409, $"database not open: {path}");
        }
        bool changed = replica.Db.Sync();
        if (!wait)
        {
            return new SyncResponse(changed ? "synced_local" : "no_change", path, replica.Db.Txid.Value, replica.RemoteTxid?.Value ?? 0);
        }
        Txid target = await UploadAsync(replica, timeout, cancellationToken).ConfigureAwait(false);
        return new SyncResponse(changed ? "synced" : "no_change", path, target.Value, replica.RemoteTxid?.Value ?? 0);
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

    private void Launch(Entry entry, bool fromConfig)
    {
        Replica replica = entry.Create();
        var stop = new CancellationTokenSource();
        var store = new Store([replica], storeOptions, logger, compaction);
        entry.Replica = replica;
        entry.Stop = stop;
        entry.Run = Task.Run(async () =>
        {
            try
            {
                await store.RunAsync(stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (fromConfig && e is DatabaseLockedException or Lease.LeaseException)
            {
                _refused.TrySetResult();
                throw;
            }
        }, CancellationToken.None);
    }

    private static async Task HaltAsync(Entry entry, TimeSpan timeout, CancellationToken cancellationToken)
    {
        await entry.Stop!.CancelAsync().ConfigureAwait(false);
        try
        {
            await entry.Run!.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new ControlException(500, $"database {entry.Path} did not stop within {GoDuration.Format(timeout)}; its final sync continues in the background");
        }
        catch (Exception e) when (e is ReplicaBehindException or DatabaseLockedException)
        {
            // Stopped, but its replica lacks transactions (or it never ran): the caller must not read this as success.
            throw new ControlException(500, e.Message);
        }
        finally
        {
            if (entry.Run!.IsCompleted)
            {
                entry.Stop.Dispose();
                entry.Stop = null;
            }
        }
    }

    /// <summary>Waits until the database holds its replication lock; a database another process replicates fails the request.</summary>
    private static async Task WaitLockedAsync(Entry entry, CancellationToken cancellationToken)
    {
        // The lock is taken first thing, without waiting for the database file: this takes milliseconds.
        while (entry.Replica is { Db.IsLocked: false } && entry.Running)
        {
            await Task.Delay(10, cancellationToken).ConfigureAwait(false);
        }
        ThrowIfRefused(entry);
    }

    private static void ThrowIfRefused(Entry entry)
    {
        if (entry.Run is { IsFaulted: true } run && run.Exception!.InnerException is DatabaseLockedException locked)
        {
            throw new ControlException(423, locked.Message);
        }
    }

    /// <summary>
    /// Waits until the database is open (its position loaded), so the reply can carry its TXID; returns at once
    /// when the file does not exist (the daemon waits for it, as at start-up).
    /// </summary>
    private static async Task WaitOpenAsync(Entry entry, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        while (entry.Replica is { Db.IsOpen: false } && entry.Running && File.Exists(entry.Path))
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
