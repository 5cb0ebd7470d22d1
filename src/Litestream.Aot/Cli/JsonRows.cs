using System.Text.Json.Serialization;

namespace Litestream.Aot.Cli;

/// <summary>One row of <c>ltx -json</c> and <c>restore -dry-run -json</c>.</summary>
internal sealed record LtxFileRow(
    [property: JsonPropertyName("level")] int Level,
    [property: JsonPropertyName("min_txid")] string MinTxid,
    [property: JsonPropertyName("max_txid")] string MaxTxid,
    [property: JsonPropertyName("size")] long Size,
    [property: JsonPropertyName("created")] string Created);

/// <summary>One row of <c>databases -json</c>.</summary>
internal sealed record DatabaseRow(
    [property: JsonPropertyName("path")] string Path,
    [property: JsonPropertyName("replica")] string Replica,
    [property: JsonPropertyName("lag_seconds"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? LagSeconds = null,
    [property: JsonPropertyName("behind"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] bool Behind = false,
    [property: JsonPropertyName("name"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Name = null)
{
    /// <summary>The replica's type, TXID, state and error when its database has several replicas (null: upstream's row).</summary>
    [JsonPropertyName("type"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Type { get; init; }

    /// <inheritdoc cref="ReplicaStatusRow.ReplicaTxid"/>
    [JsonPropertyName("replica_txid"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? ReplicaTxid { get; init; }

    /// <inheritdoc cref="ReplicaStatusRow.State"/>
    [JsonPropertyName("state"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? State { get; init; }

    /// <inheritdoc cref="ReplicaStatusRow.Error"/>
    [JsonPropertyName("error"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Error { get; init; }
}

/// <summary>One row of <c>status -json</c> (upstream's field names).</summary>
internal sealed record DbStatusRow(
    [property: JsonPropertyName("database")] string Database,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("local_txid")] string LocalTxid,
    [property: JsonPropertyName("wal_size")] string WalSize,
    [property: JsonPropertyName("error"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Error = null,
    [property: JsonPropertyName("lag_seconds"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? LagSeconds = null)
{
    /// <summary>Each replica, when the database has several (a single replica's row is upstream's, unchanged).</summary>
    [JsonPropertyName("replicas"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public List<ReplicaStatusRow>? Replicas { get; init; }
}

/// <summary>
/// One replica of a database with several, in <c>status -json</c> and <c>databases -json</c>: its name and type; while a
/// replicate process runs, the TXID it holds, its state (ok, behind, error), the TXIDs it is behind, its lag and its
/// last error.
/// </summary>
internal sealed record ReplicaStatusRow(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("replica_txid")] string ReplicaTxid,
    [property: JsonPropertyName("state"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? State = null,
    [property: JsonPropertyName("txids_behind"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] ulong? TxidsBehind = null,
    [property: JsonPropertyName("lag_seconds"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? LagSeconds = null,
    [property: JsonPropertyName("error"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Error = null);

/// <summary><c>restore -json</c>: upstream's <c>RestoreResult</c> fields, then the size and file count.</summary>
internal sealed record RestoreSummary(
    [property: JsonPropertyName("db_path")] string DbPath,
    [property: JsonPropertyName("replica")] string Replica,
    [property: JsonPropertyName("txid")] string Txid,
    [property: JsonPropertyName("duration_ms")] long DurationMs,
    [property: JsonPropertyName("integrity_check")] string IntegrityCheck,
    [property: JsonPropertyName("bytes")] long Bytes,
    [property: JsonPropertyName("files")] int Files,
    [property: JsonPropertyName("generation"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Generation = null);
