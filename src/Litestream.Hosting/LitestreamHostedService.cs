using Litestream.Ltx;
using Litestream.Replication;
using Litestream.Restore;
using Litestream.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Litestream.Hosting;

/// <summary>
/// Restores missing databases before the application starts and replicates them until it stops (registered by
/// <see cref="LitestreamServiceCollectionExtensions.AddLitestream"/>). Start: for each database, create its
/// replica clients, restore it when its file is missing and a replica has a backup, then open a
/// <see cref="Replication.Store"/> over all of them. While it runs, <see cref="RegisterAsync"/> and
/// <see cref="UnregisterAsync"/> add and remove databases. Stop: close the store, which syncs and uploads what was
/// committed so far (bounded by <see cref="StoreOptions.ShutdownSyncTimeout"/>), then dispose the clients.
/// </summary>
public sealed partial class LitestreamHostedService : IHostedService, IAsyncDisposable
{
    private readonly LitestreamOptions _options;
    private readonly IServiceProvider _services;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    // The clients this service created, by database path: disposed when the database leaves or the service stops.
    private readonly Dictionary<string, List<IReplicaClient>> _clients = new(StringComparer.Ordinal);

    internal LitestreamHostedService(LitestreamOptions options, IServiceProvider services, ILoggerFactory? loggerFactory)
    {
        _options = options;
        _services = services;
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        _logger = _loggerFactory.CreateLogger("Litestream.Hosting");
    }

    /// <summary>The running store (<see cref="Db.Replicas"/> lists each database's replicas); null before <see cref="StartAsync"/> and after <see cref="StopAsync"/>.</summary>
    public Store? Store { get; private set; }

    /// <summary>
    /// Restores missing databases, then starts replication. A restore that fails (other than an empty replica)
    /// fails the start: the application should not come up on an empty database when a backup exists.
    /// </summary>
    /// <exception cref="InvalidOperationException">No database is configured, or a database has no replica.</exception>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_options.Databases.Count == 0)
        {
            throw new InvalidOperationException("AddLitestream: no database configured (call options.AddDatabase)");
        }
        var replicas = new List<Replica>(_options.Databases.Count);
        try
        {
            foreach (LitestreamDatabaseOptions database in _options.Databases)
            {
                replicas.AddRange(await PrepareAsync(database, cancellationToken).ConfigureAwait(false));
            }
            var store = new Store(replicas, _options.Store, _loggerFactory.CreateLogger("Litestream.Store"), _options.Compaction);
            await store.OpenAsync(cancellationToken).ConfigureAwait(false);
            Store = store;
        }
        catch
        {
            await DisposeClientsAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Stops replication after a last sync and upload of every database, then disposes the replica clients.</summary>
    /// <exception cref="ReplicaBehindException">A replica does not hold everything its database committed (see <see cref="Store.CloseAsync"/>).</exception>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        try
        {
            if (Store is { } store)
            {
                Store = null;
                await store.CloseAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            await DisposeClientsAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Captures and uploads everything committed so far (see <see cref="Store.SyncAsync"/>): when it returns,
    /// the replicas hold every transaction committed before the call.
    /// </summary>
    /// <exception cref="InvalidOperationException">The service is not running.</exception>
    public Task SyncAsync(CancellationToken cancellationToken = default)
        => (Store ?? throw new InvalidOperationException("litestream is not running")).SyncAsync(cancellationToken);

    /// <summary>
    /// Adds a database while the service runs (restored first when its file is missing, as at start), replicating at
    /// once to each of its replicas (<see cref="Replication.Store.RegisterReplicasAsync"/>).
    /// False when a database at the same path is replicated already.
    /// </summary>
    /// <exception cref="InvalidOperationException">The service is not running, or the database has no replica.</exception>
    /// <exception cref="DatabaseLockedException">Another process replicates it.</exception>
    public async Task<bool> RegisterAsync(LitestreamDatabaseOptions database, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(database);
        Store store = Store ?? throw new InvalidOperationException("litestream is not running");
        string path = Path.GetFullPath(database.Path);
        if (store.Replicas.Any(r => r.Db.Path == path))
        {
            return false;
        }
        IReadOnlyList<Replica> replicas = await PrepareAsync(database, cancellationToken).ConfigureAwait(false);
        bool added;
        try
        {
            added = await store.RegisterReplicasAsync(replicas, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await DisposeClientsAsync(path).ConfigureAwait(false);
            throw;
        }
        if (!added)
        {
            await DisposeClientsAsync(path).ConfigureAwait(false);
        }
        return added;
    }

    /// <summary>
    /// Removes a database while the service runs: its final sync ships what it committed, its replicas are kept and
    /// their clients disposed (<see cref="Replication.Store.UnregisterAsync"/>). False when it is not replicated here.
    /// </summary>
    /// <exception cref="InvalidOperationException">The service is not running.</exception>
    /// <exception cref="ReplicaBehindException">The final sync left a replica behind (the database left all the same).</exception>
    public async Task<bool> UnregisterAsync(string path, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        Store store = Store ?? throw new InvalidOperationException("litestream is not running");
        string full = Path.GetFullPath(path);
        try
        {
            return await store.UnregisterAsync(full, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (!store.Replicas.Any(r => r.Db.Path == full))
            {
                await DisposeClientsAsync(full).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Stops replication if it is still running (see <see cref="StopAsync"/>); a replica left behind is logged, not thrown.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or AggregateException)
        {
            // The store logged it as an error; Dispose does not throw.
        }
    }

    /// <summary>Creates a database's replicas (their clients kept for disposal) and restores it when its file is missing.</summary>
    private async Task<IReadOnlyList<Replica>> PrepareAsync(LitestreamDatabaseOptions database, CancellationToken cancellationToken)
    {
        var db = new Db(database.Path, database.Db, _loggerFactory.CreateLogger("Litestream.Db"));
        ILogger logger = _loggerFactory.CreateLogger("Litestream.Replica");
        var replicas = new List<Replica>(1 + database.Replicas.Count);
        foreach ((Func<IServiceProvider, IReplicaClient>? factory, ReplicaSettings? settings, ReplicaOptions options) in
            database.Replicas.Select(r => (r.ReplicaClient, r.Replica, r.Options)).Prepend((database.ReplicaClient, database.Replica, database.ReplicaOptions)))
        {
            IReplicaClient client = factory is not null ? factory(_services)
                : settings is not null ? ReplicaClientFactory.Create(settings)
                : throw new InvalidOperationException($"AddLitestream: database {database.Path} has no replica");
            lock (_lock)
            {
                (_clients.TryGetValue(db.Path, out List<IReplicaClient>? list) ? list : _clients[db.Path] = []).Add(client);
            }
            replicas.Add(new Replica(db, client, options, logger));
        }
        string[] names = [.. replicas.Select(r => r.Name)];
        if (names.Distinct(StringComparer.Ordinal).Count() != names.Length)
        {
            throw new InvalidOperationException($"AddLitestream: database {database.Path} has two replicas named alike ({string.Join(", ", names)}); set ReplicaOptions.Name");
        }
        if (database.RestoreIfMissing && !File.Exists(db.Path))
        {
            await RestoreAsync(replicas, cancellationToken).ConfigureAwait(false);
        }
        return replicas;
    }

    /// <summary>
    /// Restores from the replica whose backup is the newest (<see cref="ReplicaChoice"/>, the first in order on a tie), as
    /// the exe's restore does; one that cannot be read is a warning while another has a backup, and its error is thrown
    /// when none has (it may hold one: never start empty over it).
    /// </summary>
    private async Task RestoreAsync(IReadOnlyList<Replica> replicas, CancellationToken cancellationToken)
    {
        ReplicaChoice.Candidate newest;
        try
        {
            newest = await ReplicaChoice.NewestAsync(
                [.. replicas.Select(r => new ReplicaChoice.Candidate(r.Name, r.Client, r.Client.ToString() ?? r.Client.Type))], Txid.Zero, null,
                (replica, e) =>
                {
                    if (replicas.Count > 1)
                    {
                        LogUnreadable(_logger, replica.Name, replica.Description, e.Message);
                    }
                },
                cancellationToken).ConfigureAwait(false);
        }
        catch (NoBackupException)
        {
            LogNoBackup(_logger, replicas[0].Db.Path, string.Join(", ", replicas.Select(r => r.Client.ToString() ?? r.Client.Type)));
            return;
        }
        Replica chosen = replicas.First(r => ReferenceEquals(r.Client, newest.Client));
        var options = new RestoreOptions { OutputPath = chosen.Db.Path, Encryption = chosen.Options.Encryption };
        RestoreResult result = await Restorer.RestoreAsync(chosen.Client, newest.Plan!, options, cancellationToken).ConfigureAwait(false);
        if (result.LegacyGeneration is { } generation)
        {
            LogRestoredLegacy(_logger, chosen.Db.Path, generation, newest.Description);
        }
        else
        {
            LogRestored(_logger, chosen.Db.Path, result.Txid.ToString(), newest.Description);
        }
    }

    private async Task DisposeClientsAsync(string? path = null)
    {
        List<IReplicaClient> clients;
        lock (_lock)
        {
            clients = path is null ? [.. _clients.Values.SelectMany(c => c)] : _clients.GetValueOrDefault(path) ?? [];
            if (path is null)
            {
                _clients.Clear();
            }
            else
            {
                _clients.Remove(path);
            }
        }
        foreach (IReplicaClient client in clients)
        {
            await client.DisposeAsync().ConfigureAwait(false);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "restored {Path} to txid {Txid} from {Replica}")]
    private static partial void LogRestored(ILogger logger, string path, string txid, string replica);

    [LoggerMessage(Level = LogLevel.Information, Message = "restored {Path} from v0.3 generation {Generation} on {Replica}")]
    private static partial void LogRestoredLegacy(ILogger logger, string path, string generation, string replica);

    [LoggerMessage(Level = LogLevel.Warning, Message = "replica {Name} ({Replica}) could not be read: {Error}")]
    private static partial void LogUnreadable(ILogger logger, string name, string replica, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Path} does not exist and {Replica} holds no backup; starting with a new database")]
    private static partial void LogNoBackup(ILogger logger, string path, string replica);
}
