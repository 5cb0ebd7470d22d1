using System.Globalization;
using System.Text.Json.Serialization;
using Litestream.Aot.Control;
using Litestream.Replication;
using Litestream.Storage;

namespace Litestream.Aot.Monitoring;

/// <summary>
/// One database as <c>/debug/sync-status</c> and <c>/healthz</c> report it (upstream <c>DB.SyncStatus</c>, without
/// its request to storage: the replica's position is the one this process tracks). Status: <c>replicating</c>,
/// <c>waiting</c> (the database file does not exist or is not open yet), <c>stopped</c> (by <c>litestream stop</c>),
/// <c>error</c> (the last sync or upload, or the last validation, failed), <c>behind</c> (transactions wait for upload and no upload pass
/// succeeded for <see cref="StalledAfterIntervals"/> sync intervals).
/// </summary>
internal sealed record DatabaseSyncStatus(
    [property: JsonPropertyName("path")] string Path,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("local_txid")] string LocalTxid,
    [property: JsonPropertyName("replica_txid"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ReplicaTxid,
    [property: JsonPropertyName("in_sync")] bool InSync,
    [property: JsonPropertyName("last_upload_at"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? LastUploadAt,
    [property: JsonPropertyName("upload_age_seconds"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? UploadAgeSeconds,
    [property: JsonPropertyName("error"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Error,
    [property: JsonPropertyName("last_validation"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? LastValidation = null)
{
    /// <summary>Sync intervals without a successful upload, while transactions wait, after which a database is stalled.</summary>
    public const int StalledAfterIntervals = 10;

    /// <summary>False for <c>error</c> and <c>behind</c>: <c>/healthz</c> answers 503.</summary>
    [JsonIgnore]
    public bool Healthy => Status is not ("error" or "behind");

    /// <summary>The status of every database the daemon knows, now.</summary>
    public static List<DatabaseSyncStatus> Collect(ReplicationDaemon daemon)
    {
        DateTimeOffset now = DateTimeOffset.UtcNow;
        var statuses = new List<DatabaseSyncStatus>();
        foreach ((string path, bool running, Replica? replica) in daemon.Databases())
        {
            statuses.Add(Of(path, running, replica, now));
        }
        return statuses;
    }

    private static DatabaseSyncStatus Of(string path, bool running, Replica? replica, DateTimeOffset now)
    {
        ulong local = replica?.Db.Txid.Value ?? 0;
        ulong? remote = replica?.RemoteTxid?.Value;
        bool inSync = local > 0 && remote == local;
        DateTimeOffset? lastUpload = replica?.LastSyncAt;
        double? age = lastUpload is { } at ? Math.Round((now - at).TotalSeconds, 3) : null;
        ValidationResult? validation = replica?.LastValidation;
        // A replica that did not restore to the database is as unhealthy as one that cannot be written.
        string? error = (replica is null ? null : ReplicationHealth.Read(replica.Db.MetaPath)?.Describe())
            ?? (validation is { Ok: false } ? $"validation failed: {validation.Error}" : null);
        string status = !running ? "stopped"
            : error is not null ? "error"
            : replica is null || !replica.Db.IsOpen ? "waiting"
            : !inSync && remote < local && age > StalledAfterIntervals * replica.Options.SyncInterval.TotalSeconds ? "behind"
            : "replicating";
        if (status == "behind")
        {
            error = $"no upload for {age:0}s while transactions {remote + 1:x16}..{local:x16} wait";
        }
        return new DatabaseSyncStatus(
            path,
            status,
            local.ToString("x16", CultureInfo.InvariantCulture),
            remote?.ToString("x16", CultureInfo.InvariantCulture),
            inSync,
            lastUpload is { } t ? LitestreamJsonContext.FormatTime(t) : null,
            age,
            error is null ? null : Redaction.Apply(error),
            validation is null ? null : $"{(validation.Ok ? "ok" : "failed")} at {LitestreamJsonContext.FormatTime(validation.At)} (txid {validation.Txid})");
    }
}

/// <summary>Body of <c>/debug/sync-status</c>.</summary>
internal sealed record SyncStatusResponse([property: JsonPropertyName("databases")] List<DatabaseSyncStatus> Databases);

/// <summary>Body of <c>/healthz</c>: <c>ok</c>, or <c>error</c> with the databases that are not healthy.</summary>
internal sealed record HealthResponse(
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("databases"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] List<DatabaseSyncStatus>? Databases);
