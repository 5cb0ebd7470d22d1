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
/// replica client, restore it when its file is missing and the replica has a backup, then open a
/// <see cref="Replication.Store"/> over all of them. Stop: close the store, which syncs and uploads what was
/// committed so far (bounded by <see cref="StoreOptions.ShutdownSyncTimeout"/>), then dispose the clients.
/// </summary>
public sealed partial class LitestreamHostedService : IHostedService, IAsyncDisposable
{
    private readonly LitestreamOptions _options;
    private readonly IServiceProvider _services;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly List<IReplicaClient> _clients = [];

    internal LitestreamHostedService(LitestreamOptions options, IServiceProvider services, ILoggerFactory? loggerFactory)
    {
        _options = options;
        _services = services;
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        _logger = _loggerFactory.CreateLogger("Litestream.Hosting");
    }

    /// <summary>The running store (one replica per database); null before <see cref="StartAsync"/> and after <see cref="StopAsync"/>.</summary>
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
                IReplicaClient client = CreateClient(database);
                _clients.Add(client);
                var db = new Db(database.Path, database.Db, _loggerFactory.CreateLogger("Litestream.Db"));
                var replica = new Replica(db, client, database.ReplicaOptions, _loggerFactory.CreateLogger("Litestream.Replica"));
                replicas.Add(replica);
                if (database.RestoreIfMissing && !File.Exists(db.Path))
                {
                    await RestoreAsync(replica, cancellationToken).ConfigureAwait(false);
                }
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

    private IReplicaClient CreateClient(LitestreamDatabaseOptions database)
    {
        if (database.ReplicaClient is { } factory)
        {
            return factory(_services);
        }
        return database.Replica is { } settings
            ? ReplicaClientFactory.Create(settings)
            : throw new InvalidOperationException($"AddLitestream: database {database.Path} has no replica");
    }

    private async Task RestoreAsync(Replica replica, CancellationToken cancellationToken)
    {
        RestoreResult? result = await replica.TryRestoreAsync(new RestoreOptions { OutputPath = replica.Db.Path }, cancellationToken).ConfigureAwait(false);
        string source = replica.Client.ToString() ?? replica.Client.Type;
        if (result is null)
        {
            LogNoBackup(_logger, replica.Db.Path, source);
        }
        else if (result.LegacyGeneration is { } generation)
        {
            LogRestoredLegacy(_logger, replica.Db.Path, generation, source);
        }
        else
        {
            LogRestored(_logger, replica.Db.Path, result.Txid.ToString(), source);
        }
    }

    private async Task DisposeClientsAsync()
    {
        foreach (IReplicaClient client in _clients)
        {
            await client.DisposeAsync().ConfigureAwait(false);
        }
        _clients.Clear();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "restored {Path} to txid {Txid} from {Replica}")]
    private static partial void LogRestored(ILogger logger, string path, string txid, string replica);

    [LoggerMessage(Level = LogLevel.Information, Message = "restored {Path} from v0.3 generation {Generation} on {Replica}")]
    private static partial void LogRestoredLegacy(ILogger logger, string path, string generation, string replica);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Path} does not exist and {Replica} holds no backup; starting with a new database")]
    private static partial void LogNoBackup(ILogger logger, string path, string replica);
}
