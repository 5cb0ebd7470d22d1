using System.Diagnostics.Metrics;
using Litestream.Replication;

namespace Litestream.Metrics;

/// <summary>
/// The engine's metrics, on the <see cref="System.Diagnostics.Metrics.Meter"/> named <see cref="MeterName"/>: any
/// <see cref="MeterListener"/> (the <c>litestream</c> exe's <c>/metrics</c>, OpenTelemetry, <c>dotnet-counters</c>)
/// reads them. Instrument names, descriptions and tags are upstream's Prometheus metrics exactly (db.go,
/// internal/internal.go), so dashboards and alerts written for upstream work unchanged; counters are
/// <see cref="Counter{T}"/>, gauges <see cref="Gauge{T}"/> (last value per tag set), the operation duration a
/// <see cref="Histogram{T}"/> whose bucket bounds are upstream's (<see cref="Instrument{T}.Advice"/>). Beyond
/// upstream, observable gauges over the replicas a <see cref="Store"/> is running: the replica's TXID, the seconds
/// since its last successful upload pass, and the last validation's result and time (with a counter of validations).
/// </summary>
public static class LitestreamMetrics
{
    /// <summary>Name of the meter every engine instrument belongs to.</summary>
    public const string MeterName = "Litestream";

    internal static readonly Meter Meter = new(MeterName, typeof(LitestreamMetrics).Assembly.GetName().Version?.ToString());

    // Upstream db.go, "Database metrics": tag db = the database's absolute path.
    internal static readonly Gauge<long> DbSize = Meter.CreateGauge<long>("litestream_db_size", null, "The current size of the real DB");
    internal static readonly Gauge<long> WalSize = Meter.CreateGauge<long>("litestream_wal_size", null, "The current size of the real WAL");
    internal static readonly Counter<long> TotalWalBytes = Meter.CreateCounter<long>("litestream_total_wal_bytes", null, "Total number of bytes written to shadow WAL");
    internal static readonly Gauge<long> Txid = Meter.CreateGauge<long>("litestream_txid", null, "The current transaction ID");
    internal static readonly Counter<long> SyncCount = Meter.CreateCounter<long>("litestream_sync_count", null, "Number of sync operations performed");
    internal static readonly Counter<long> SyncErrorCount = Meter.CreateCounter<long>("litestream_sync_error_count", null, "Number of sync errors that have occurred");
    internal static readonly Counter<double> SyncSeconds = Meter.CreateCounter<double>("litestream_sync_seconds", null, "Time spent syncing shadow WAL, in seconds");
    internal static readonly Gauge<long> DiskFull = Meter.CreateGauge<long>("litestream_disk_full", null, "Whether replication is paused because the local disk is full");
    // Tags db and mode (PASSIVE, TRUNCATE).
    internal static readonly Counter<long> CheckpointCount = Meter.CreateCounter<long>("litestream_checkpoint_count", null, "Number of checkpoint operations performed");
    internal static readonly Counter<long> CheckpointErrorCount = Meter.CreateCounter<long>("litestream_checkpoint_error_count", null, "Number of checkpoint errors that have occurred");
    internal static readonly Counter<double> CheckpointSeconds = Meter.CreateCounter<double>("litestream_checkpoint_seconds", null, "Time spent checkpointing WAL, in seconds");
    internal static readonly Counter<long> CompactionVerifyErrorCount = Meter.CreateCounter<long>("litestream_compaction_verify_error_count", null, "Number of post-compaction verification failures");

    // Upstream internal/internal.go, "Shared replica metrics": tags replica_type (file, s3, …) and operation
    // (GET, PUT, DELETE, LIST); errors add code.
    internal static readonly Counter<long> ReplicaOperationTotal = Meter.CreateCounter<long>("litestream_replica_operation_total", null, "The number of replica operations performed");
    internal static readonly Counter<long> ReplicaOperationBytes = Meter.CreateCounter<long>("litestream_replica_operation_bytes", null, "The number of bytes used by replica operations");
    internal static readonly Histogram<double> ReplicaOperationDuration = Meter.CreateHistogram<double>(
        "litestream_replica_operation_duration_seconds", null, "Duration of replica operations by type and operation", tags: null,
        new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60] });
    internal static readonly Counter<long> ReplicaOperationErrors = Meter.CreateCounter<long>("litestream_replica_operation_errors_total", null, "Number of replica operation errors by type, operation, and error code");
    // Tags db (the file name, as upstream) and status (eligible, not_compacted, too_recent).
    internal static readonly Gauge<long> L0RetentionFiles = Meter.CreateGauge<long>("litestream_l0_retention_files_total", null, "Number of L0 files by status during retention enforcement");

    // Ours: tags db and result (ok, failed).
    internal static readonly Counter<long> ValidationTotal = Meter.CreateCounter<long>("litestream_validation_total", null, "Validations of the replica against the database, by result");

    private static readonly Lock s_lock = new();
    // The replicas a store runs.
    private static readonly List<Replica> s_running = [];

    static LitestreamMetrics()
    {
        Meter.CreateObservableGauge("litestream_replica_txid", () => Observe(r => r.RemoteTxid is { } txid ? (long)txid.Value : null), null,
            "Newest transaction ID the replica is known to hold (compare with litestream_txid)");
        Meter.CreateObservableGauge("litestream_replica_sync_age_seconds", () => ObserveAge(), null,
            "Seconds the replica has not been confirmed in sync: 0 while it holds the newest local transaction, else since the oldest one it lacks was captured (since replication started when it was never reached): alert on this");
        Meter.CreateObservableGauge("litestream_replica_behind", () => ObserveBehind(), null,
            "Transactions the replica is behind the local database (litestream_txid minus what the replica holds)");
        // No series before the first validation ran: 0 would read as a failed one, 1 as a passed one.
        Meter.CreateObservableGauge("litestream_validation_ok", () => Observe(r => r.LastValidation is { } v ? (v.Ok ? 1 : 0) : null), null,
            "Whether the last validation restored the replica to exactly the database (1) or not (0); absent before the first validation");
        Meter.CreateObservableGauge("litestream_validation_timestamp_seconds", () => Observe(r => r.LastValidation?.At.ToUnixTimeSeconds()), null,
            "Unix time of the last validation");
    }

    /// <summary>Tags of a replica's series: its database, and its name when the database has several replicas (upstream's series keep their labels).</summary>
    internal static KeyValuePair<string, object?>[] ReplicaTags(Replica replica)
        => replica.Db.Replicas.Count > 1 ? [DbTag(replica.Db.Path), new("replica", replica.Name)] : [DbTag(replica.Db.Path)];

    /// <summary>Tags of a database's series.</summary>
    internal static KeyValuePair<string, object?> DbTag(string path) => new("db", path);

    /// <summary>Starts reporting the observable gauges of <paramref name="replica"/> (a <see cref="Store"/> runs it).</summary>
    internal static void Track(Replica replica)
    {
        lock (s_lock)
        {
            s_running.Add(replica);
        }
    }

    /// <summary>Stops reporting <paramref name="replica"/>: replication of its database ended.</summary>
    internal static void Untrack(Replica replica)
    {
        lock (s_lock)
        {
            s_running.RemoveAll(r => r == replica);
        }
    }

    private static Replica[] Running()
    {
        lock (s_lock)
        {
            return [.. s_running];
        }
    }

    private static IEnumerable<Measurement<long>> Observe(Func<Replica, long?> value)
    {
        foreach (Replica replica in Running())
        {
            if (value(replica) is { } v)
            {
                yield return new Measurement<long>(v, ReplicaTags(replica));
            }
        }
    }

    private static IEnumerable<Measurement<double>> ObserveAge()
    {
        foreach (Replica replica in Running())
        {
            yield return new Measurement<double>(replica.GetStatus().LagSeconds, ReplicaTags(replica));
        }
    }

    /// <summary>Always labelled by db and replica (a series of ours, no upstream dashboard to keep working).</summary>
    private static IEnumerable<Measurement<long>> ObserveBehind()
    {
        foreach (Replica replica in Running())
        {
            yield return new Measurement<long>(checked((long)replica.GetStatus().TxidsBehind), [DbTag(replica.Db.Path), new("replica", replica.Name)]);
        }
    }
}
