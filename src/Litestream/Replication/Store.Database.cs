using Litestream.Events;
using Litestream.Lease;
using Litestream.Logging;
using Litestream.Metrics;
using Litestream.Ltx;
using Litestream.Storage;

namespace Litestream.Replication;

/// <summary>
/// One database's run in the store: its lock and open, its <see cref="DatabaseMonitor"/>, the upload loop of each
/// replica, the jobs of compaction and validation on the store's scheduler, the lease, and the final sync.
/// </summary>
public sealed partial class Store
{
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
        // One upload loop per replica, each with its own wake-up, position and backoff: a slow one delays nobody.
        Uploader[] uploaders = [.. ReplicasOf(replica).Select(r => new Uploader(r))];
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
                loops.Add((r.Options.Compaction ?? Compaction) is { } compaction ? new Compactor(r, compaction, _logger, _compactionGate).StartAsync(_scheduler, running.Token) : Task.CompletedTask);
                loops.Add(r.Options.ValidationInterval > TimeSpan.Zero ? StartValidation(r, running.Token) : Task.CompletedTask);
            }
            loops.AddRange(uploaders.Select(u => UploadLoopAsync(u, uploaders, health, running.Token)));
            using (DatabaseMonitor monitor = Monitor(db, uploaders, health, running.Token))
            {
                await monitor.RunAsync().ConfigureAwait(false);
            }
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
    private async Task RenewLeaseAsync(ReplicaLease lease, CancellationTokenSource running, Action<LeaseException> lost)
    {
        try
        {
            await lease.RenewLoopAsync(_scheduler.DelayAsync, running.Token).ConfigureAwait(false);
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
                await _scheduler.DelayAsync(replica.Db.Options.MonitorInterval, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException and not LeaseException)
            {
                Interlocked.Increment(ref _errorCount);
                string error = e is LocalStateException local ? $"{e.Message} (hint: {local.Hint})" : e.Message;
                LogSyncFailure(replica.Db.Path, delay, e, error);
                health.SyncFailed(error);
                PublishError(replica.Db.Path, error);
                replica.Db.Close(); // keeps the replication lock for the retry
                await _scheduler.DelayAsync(delay, cancellationToken).ConfigureAwait(false);
                delay = Options.Backoff(delay);
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
        // Before the listing (seconds on a slow store): each of the application's checkpoints meanwhile may restart the
        // WAL over the frames that let the capture continue the chain instead of writing a snapshot.
        _ = replica.Db.SyncIfContinuing();
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

    /// <summary>The monitor of <paramref name="db"/>: after each pass it wakes the uploaders with something to send; failures are counted, logged and published.</summary>
    private DatabaseMonitor Monitor(Db db, Uploader[] uploaders, ReplicationHealth health, CancellationToken cancellationToken)
        => new(_scheduler, db, Options, _logger,
            synced: wrote =>
            {
                foreach (Uploader uploader in uploaders)
                {
                    if (wrote || !(uploader.Replica.RemoteTxid >= db.Txid))
                    {
                        Release(uploader.Signal);
                    }
                }
            },
            recovered: failures =>
            {
                Log.SyncRecovered(_logger, db.Path, failures);
                health.SyncSucceeded();
            },
            failed: (e, delay) =>
            {
                Interlocked.Increment(ref _errorCount);
                LogSyncFailure(db.Path, delay, e, e.Message);
                health.SyncFailed(e.Message);
                PublishError(db.Path, e.Message);
            },
            cancellationToken);

    /// <summary>Validates the replica every <see cref="ReplicaOptions.ValidationInterval"/> (results are logged and counted there).</summary>
    private Task StartValidation(Replica replica, CancellationToken cancellationToken)
        => new PeriodicJob(_scheduler, "validation", $"{replica.Db.Path} {replica.Label}", () => replica.Options.ValidationInterval, async ct =>
        {
            if (replica.Db.IsOpen)
            {
                await replica.ValidateAsync(ct).ConfigureAwait(false);
            }
        }, cancellationToken).StartAsync();

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
                failureDelay = failureDelay == TimeSpan.Zero ? replica.Options.SyncInterval : Options.Backoff(failureDelay);
                replica.InvalidateRemotePosition();
                Log.ReplicaFailed(_logger, ReplicaLabel(replica), replica.Db.Path, GoDuration.Format(failureDelay), e.Message);
                health.UploadFailed($"replica {ReplicaLabel(replica)}: {e.Message}");
                replica.LastError = Redaction.Apply(e.Message);
                health.ReplicaFailed(replica.Name, replica.Client.Type, e.Message);
                PublishError(replica.Db.Path, $"replica {ReplicaLabel(replica)}: {e.Message}");
                await _scheduler.DelayAsync(failureDelay, cancellationToken).ConfigureAwait(false);
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

}
