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
    [property: JsonPropertyName("behind"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] bool Behind = false);

/// <summary>One row of <c>status -json</c> (upstream's field names).</summary>
internal sealed record DbStatusRow(
    [property: JsonPropertyName("database")] string Database,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("local_txid")] string LocalTxid,
    [property: JsonPropertyName("wal_size")] string WalSize,
    [property: JsonPropertyName("error"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Error = null,
    [property: JsonPropertyName("lag_seconds"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? LagSeconds = null);

/// <summary>Source-generated JSON (no reflection) for every -json output.</summary>
[JsonSourceGenerationOptions(WriteIndented = true)]
[JsonSerializable(typeof(List<LtxFileRow>))]
[JsonSerializable(typeof(List<DatabaseRow>))]
[JsonSerializable(typeof(List<DbStatusRow>))]
internal sealed partial class LitestreamJsonContext : JsonSerializerContext;
