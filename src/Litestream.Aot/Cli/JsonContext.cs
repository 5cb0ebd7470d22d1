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
    [property: JsonPropertyName("name"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Name = null);

/// <summary>One row of <c>status -json</c> (upstream's field names).</summary>
internal sealed record DbStatusRow(
    [property: JsonPropertyName("database")] string Database,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("local_txid")] string LocalTxid,
    [property: JsonPropertyName("wal_size")] string WalSize,
    [property: JsonPropertyName("error"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Error = null,
    [property: JsonPropertyName("lag_seconds"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? LagSeconds = null);

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

/// <summary>Source-generated JSON (no reflection) for every -json output.</summary>
[JsonSourceGenerationOptions(WriteIndented = true)]
[JsonSerializable(typeof(List<LtxFileRow>))]
[JsonSerializable(typeof(List<DatabaseRow>))]
[JsonSerializable(typeof(List<DbStatusRow>))]
[JsonSerializable(typeof(RestoreSummary))]
internal sealed partial class LitestreamJsonContext : JsonSerializerContext;
