using Litestream.Replication;
using Litestream.Storage;

namespace Litestream.Hosting;

/// <summary>
/// What <see cref="LitestreamServiceCollectionExtensions.AddLitestream"/> replicates: one or more databases,
/// each with one replica or several (<see cref="LitestreamDatabaseOptions.AddReplica"/>), plus the settings shared by
/// all of them.
/// </summary>
public sealed class LitestreamOptions
{
    /// <summary>The databases to restore and replicate.</summary>
    public IList<LitestreamDatabaseOptions> Databases { get; } = new List<LitestreamDatabaseOptions>();

    /// <summary>Shutdown and retry settings shared by every database.</summary>
    public StoreOptions Store { get; set; } = new();

    /// <summary>Compaction levels, snapshots and retention; null only ships L0 files (no compaction, no retention).</summary>
    public CompactionOptions? Compaction { get; set; } = new();

    /// <summary>
    /// Adds a database replicated to the replica at <paramref name="replicaUrl"/> (<c>file:///path</c>,
    /// <c>s3://bucket/path?…</c>, or a bare directory path) and returns it for further settings.
    /// </summary>
    public LitestreamDatabaseOptions AddDatabase(string path, string replicaUrl)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ArgumentException.ThrowIfNullOrWhiteSpace(replicaUrl);
        var database = new LitestreamDatabaseOptions { Path = path, Replica = new ReplicaSettings { Url = replicaUrl } };
        Databases.Add(database);
        return database;
    }
}

/// <summary>
/// One replicated database: where it is, where its replicas are, and how it is replicated. Its first replica is
/// <see cref="Replica"/> (or <see cref="ReplicaClient"/>) with <see cref="ReplicaOptions"/>; <see cref="Replicas"/> adds
/// more, each at its own pace (a failing one blocks none of the others).
/// </summary>
public sealed class LitestreamDatabaseOptions
{
    /// <summary>The SQLite database path (the file the application opens).</summary>
    public required string Path { get; set; }

    /// <summary>
    /// Where the replica is: a URL in <see cref="ReplicaSettings.Url"/> or the backend settings themselves.
    /// Ignored when <see cref="ReplicaClient"/> is set.
    /// </summary>
    public ReplicaSettings? Replica { get; set; }

    /// <summary>Creates the replica client from the service provider instead of <see cref="Replica"/> (e.g. a client built by the application). The hosted service disposes the client it gets.</summary>
    public Func<IServiceProvider, IReplicaClient>? ReplicaClient { get; set; }

    /// <summary>
    /// Restore the database from the replica at start-up when its file does not exist (upstream
    /// <c>restore -if-db-not-exists -if-replica-exists</c>); an empty replica is not an error. True by default.
    /// </summary>
    public bool RestoreIfMissing { get; set; } = true;

    /// <summary>Monitor, checkpoint and busy-timeout settings of the database.</summary>
    public DbOptions Db { get; set; } = new();

    /// <summary>Upload settings of the replica (its <see cref="ReplicaOptions.Name"/> names it among several; default: its type).</summary>
    public ReplicaOptions ReplicaOptions { get; set; } = new();

    /// <summary>Further replicas of the database, after the first.</summary>
    public IList<LitestreamReplicaOptions> Replicas { get; } = new List<LitestreamReplicaOptions>();

    /// <summary>
    /// Adds a further replica named <paramref name="name"/> at <paramref name="replicaUrl"/> and returns this database;
    /// <paramref name="options"/> are its upload settings (its name is set from <paramref name="name"/>).
    /// </summary>
    public LitestreamDatabaseOptions AddReplica(string name, string replicaUrl, ReplicaOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentException.ThrowIfNullOrWhiteSpace(replicaUrl);
        Replicas.Add(new LitestreamReplicaOptions { Replica = new ReplicaSettings { Url = replicaUrl }, Options = (options ?? new ReplicaOptions()) with { Name = name } });
        return this;
    }
}

/// <summary>A further replica of a database (<see cref="LitestreamDatabaseOptions.Replicas"/>).</summary>
public sealed class LitestreamReplicaOptions
{
    /// <summary>Where the replica is; ignored when <see cref="ReplicaClient"/> is set.</summary>
    public ReplicaSettings? Replica { get; set; }

    /// <summary>Creates the replica client from the service provider instead of <see cref="Replica"/>. The hosted service disposes it.</summary>
    public Func<IServiceProvider, IReplicaClient>? ReplicaClient { get; set; }

    /// <summary>Upload settings; <see cref="ReplicaOptions.Name"/> names it (names must differ among a database's replicas).</summary>
    public ReplicaOptions Options { get; set; } = new();
}
