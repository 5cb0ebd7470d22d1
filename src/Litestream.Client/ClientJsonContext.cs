using System.Text.Json.Serialization;

namespace Litestream.Client;

// The daemon's JSON bodies this client sends and reads (src/Litestream.Aot/Control/ControlProtocol.cs).

internal sealed record PathRequest([property: JsonPropertyName("path")] string Path);

internal sealed record SyncWaitRequest(
    [property: JsonPropertyName("path")] string Path,
    [property: JsonPropertyName("wait")] bool Wait,
    [property: JsonPropertyName("timeout")] int Timeout);

internal sealed record SyncReply([property: JsonPropertyName("txid")] ulong Txid, [property: JsonPropertyName("replicated_txid")] ulong ReplicatedTxid);

internal sealed record HaltRequest([property: JsonPropertyName("path")] string Path, [property: JsonPropertyName("timeout")] int Timeout);

internal sealed record HaltReply(
    [property: JsonPropertyName("path")] string Path,
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("txid")] ulong Txid,
    [property: JsonPropertyName("expires_at")] DateTimeOffset ExpiresAt);

internal sealed record UnhaltRequest([property: JsonPropertyName("path")] string Path, [property: JsonPropertyName("id")] string Id);

internal sealed record UnhaltReply([property: JsonPropertyName("status")] string Status, [property: JsonPropertyName("txid")] ulong Txid);

internal sealed record LagReply(
    [property: JsonPropertyName("path")] string Path,
    [property: JsonPropertyName("txid")] ulong Txid,
    [property: JsonPropertyName("replicated_txid")] ulong ReplicatedTxid,
    [property: JsonPropertyName("behind_txids")] ulong BehindTxids,
    [property: JsonPropertyName("lag_seconds")] double? LagSeconds);

internal sealed record ForwardPage([property: JsonPropertyName("pgno")] uint Pgno, [property: JsonPropertyName("data")] byte[] Data);

internal sealed record ForwardRequest(
    [property: JsonPropertyName("path")] string Path,
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("txid")] ulong Txid,
    [property: JsonPropertyName("commit")] uint Commit,
    [property: JsonPropertyName("pages")] List<ForwardPage> Pages);

internal sealed record ForwardReply([property: JsonPropertyName("txid")] ulong Txid);

internal sealed record ErrorReply([property: JsonPropertyName("error")] string? Error);

/// <summary>Source-generated JSON (no reflection: the package is trim and AOT clean).</summary>
[JsonSerializable(typeof(SyncWaitRequest))]
[JsonSerializable(typeof(SyncReply))]
[JsonSerializable(typeof(HaltRequest))]
[JsonSerializable(typeof(HaltReply))]
[JsonSerializable(typeof(UnhaltRequest))]
[JsonSerializable(typeof(UnhaltReply))]
[JsonSerializable(typeof(LagReply))]
[JsonSerializable(typeof(ErrorReply))]
[JsonSerializable(typeof(ForwardRequest))]
[JsonSerializable(typeof(ForwardReply))]
[JsonSerializable(typeof(LitestreamEvent))]
internal sealed partial class ClientJsonContext : JsonSerializerContext;
