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
    // Start, stop, register and unregister one at a time: each waits for a database to open or to flush.
    private readonly SemaphoreSlim _gate = new(1, 1);

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
        Launch(entry);
    }

    /// <summary>Replicates until <paramref name="cancellationToken"/> is cancelled, then stops every database (final sync each).</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        await _gate.WaitAsync(CancellationToken.None).ConfigureAwait(false);
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
            await Task.WhenAll(entries.Select(e => e.Run ?? Task.CompletedTask)).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
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
                Launch(entry);
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
            // Like upstream, registering does not wait for the database: it may not exist yet, and the
            // daemon opens it when it appears.
            Launch(entry);
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
    /// Captures the WAL now (upstream <c>Store.SyncDB</c>); with <paramref name="wait"/> also uploads before
    /// answering, so <c>replicated_txid</c> is what the replica holds.
    /// </summary>
    public async Task<SyncResponse> SyncAsync(string path, bool wait, CancellationToken cancellationToken)
    {
        Entry entry = Find(path) ?? throw NotFound(path);
        Replica? replica = entry.Replica;
        if (!entry.Running || replica is null || !replica.Db.IsOpen)
        {
            throw new ControlException(409, $"database not open: {path}");
        }
        bool changed = replica.Db.Sync();
        if (wait)
        {
            await replica.SyncAsync(cancellationToken).ConfigureAwait(false);
        }
        string status = !changed ? "no_change" : wait ? "synced" : "synced_local";
        return new SyncResponse(status, path, replica.Db.Txid.Value, replica.RemoteTxid?.Value ?? 0);
    }

    /// <summary>
    /// Refuses a path that cannot be a database, so /list never says "replicating" while every sync fails. A missing
    /// or empty file is accepted, as upstream does: the database may be created after it is registered.
    /// </summary>
    private static void RequireSqliteOrMissing(string path)
    {
        if (Cli.Libc.IsSpecialFile(path))
        {
            throw new ControlException(400, $"not a regular file: {path}");
        }
        Span<byte> header = stackalloc byte[SqliteMagic.Length];
        int read;
        try
        {
            using Microsoft.Win32.SafeHandles.SafeFileHandle file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            read = RandomAccess.Read(file, header, 0);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ControlException(400, $"cannot read database {path}: {e.Message}");
        }
        if (read > 0 && (read < SqliteMagic.Length || !header.SequenceEqual(SqliteMagic)))
        {
            throw new ControlException(400, $"not a SQLite database: {path} (it does not start with the SQLite header)");
        }
    }

    private static ReadOnlySpan<byte> SqliteMagic => "SQLite format 3\0"u8;

    private Entry? Find(string path)
    {
        lock (_lock)
        {
            return _entries.Find(e => string.Equals(e.Path, path, StringComparison.Ordinal));
        }
    }

    private static ulong TxidOf(Entry entry) => entry.Replica?.Db.Txid.Value ?? 0;

    private static ControlException NotFound(string path) => new(404, $"database not found: {path}");

    private void Launch(Entry entry)
    {
        Replica replica = entry.Create();
        var stop = new CancellationTokenSource();
        var store = new Store([replica], storeOptions, logger, compaction);
        entry.Replica = replica;
        entry.Stop = stop;
        entry.Run = Task.Run(() => store.RunAsync(stop.Token), CancellationToken.None);
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
            throw new ControlException(500, $"database {entry.Path} did not stop within {timeout.TotalSeconds:0}s; its final sync continues in the background");
        }
        entry.Stop.Dispose();
        entry.Stop = null;
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
    }
}
