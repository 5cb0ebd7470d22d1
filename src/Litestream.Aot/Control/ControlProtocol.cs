using System.Text.Json.Serialization;

namespace Litestream.Aot.Control;

// The control socket's JSON bodies, field for field as upstream's server.go (litestream v0.5): HTTP/1.1 over a
// Unix socket, POST /start /stop /sync /register /unregister, GET /list /info /txid?path=. Upstream's own CLI
// can talk to our daemon and ours to upstream's. Times are strings in Go's RFC 3339 (nanosecond) form.

/// <summary>Body of POST /start and POST /stop.</summary>
internal sealed record PathTimeoutRequest(
    [property: JsonPropertyName("path")] string? Path,
    [property: JsonPropertyName("timeout"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] int Timeout);

/// <summary>Reply of /start and /stop: status started|already_running|stopped|already_stopped.</summary>
internal sealed record StartStopResponse(
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("path")] string Path,
    [property: JsonPropertyName("txid")] ulong Txid);

/// <summary>Body of POST /sync.</summary>
internal sealed record SyncRequest(
    [property: JsonPropertyName("path")] string? Path,
    [property: JsonPropertyName("wait"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] bool Wait,
    [property: JsonPropertyName("timeout"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] int Timeout);

/// <summary>Reply of /sync: status no_change|synced_local|synced.</summary>
internal sealed record SyncResponse(
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("path")] string Path,
    [property: JsonPropertyName("txid")] ulong Txid,
    [property: JsonPropertyName("replicated_txid")] ulong ReplicatedTxid);

/// <summary>Body of POST /register.</summary>
internal sealed record RegisterRequest(
    [property: JsonPropertyName("path")] string? Path,
    [property: JsonPropertyName("replica_url")] string? ReplicaUrl);

/// <summary>Reply of /register: status registered|already_registered.</summary>
internal sealed record RegisterResponse(
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("path")] string Path);

/// <summary>Reply of /unregister: status unregistered|already_unregistered, and the last TXID replicated.</summary>
internal sealed record UnregisterResponse(
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("path")] string Path,
    [property: JsonPropertyName("txid")] ulong Txid);

/// <summary>Reply of GET /txid.</summary>
internal sealed record TxidResponse([property: JsonPropertyName("txid")] ulong Txid);

/// <summary>One database in GET /list: status replicating|stopped; beyond upstream, each of its replicas.</summary>
internal sealed record DatabaseSummary(
    [property: JsonPropertyName("path")] string Path,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("last_sync_at"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? LastSyncAt,
    [property: JsonPropertyName("replicas"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] List<ReplicaSummary>? Replicas);

/// <summary>
/// One replica of a database in GET /list and /info (ours; upstream has one replica and no such array): its name,
/// type, the TXID it holds (0 before first contact), state ok|behind|error, TXIDs behind, and its last upload error.
/// </summary>
internal sealed record ReplicaSummary(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("txid")] ulong Txid,
    [property: JsonPropertyName("state")] string State,
    [property: JsonPropertyName("txids_behind")] ulong TxidsBehind,
    [property: JsonPropertyName("last_error"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? LastError)
{
    public static ReplicaSummary Of(Litestream.Replication.ReplicaStatus status)
        => new(status.Name, status.Type, status.Txid?.Value ?? 0, status.State, status.TxidsBehind, status.LastError);
}

/// <summary>A database and its replicas in GET /info.</summary>
internal sealed record DatabaseReplicas(
    [property: JsonPropertyName("path")] string Path,
    [property: JsonPropertyName("replicas")] List<ReplicaSummary> Replicas);

/// <summary>Reply of GET /list.</summary>
internal sealed record ListResponse([property: JsonPropertyName("databases")] List<DatabaseSummary> Databases);

/// <summary>Reply of GET /info.</summary>
internal sealed record InfoResponse(
    [property: JsonPropertyName("version")] string Version,
    [property: JsonPropertyName("pid")] int Pid,
    [property: JsonPropertyName("uptime_seconds")] long UptimeSeconds,
    [property: JsonPropertyName("started_at")] string StartedAt,
    [property: JsonPropertyName("database_count")] int DatabaseCount,
    [property: JsonPropertyName("databases"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] List<DatabaseReplicas>? Databases);

/// <summary>Any non-200 reply.</summary>
internal sealed record ErrorResponse(
    [property: JsonPropertyName("error")] string Error,
    [property: JsonPropertyName("details"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Details = null);

/// <summary>What <c>litestream start/stop -json</c> print (upstream <c>StartStopResult</c>).</summary>
internal sealed record StartStopResult(
    [property: JsonPropertyName("db_path")] string DbPath,
    [property: JsonPropertyName("state")] string State,
    [property: JsonPropertyName("txid")] ulong Txid,
    [property: JsonPropertyName("socket")] string Socket);

/// <summary>What <c>litestream register -json</c> prints (upstream <c>RegisterResult</c>).</summary>
internal sealed record RegisterResult(
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("db_path")] string DbPath,
    [property: JsonPropertyName("replica")] string Replica,
    [property: JsonPropertyName("socket")] string Socket);

/// <summary>What <c>litestream unregister -json</c> prints (upstream <c>UnregisterResult</c>).</summary>
internal sealed record UnregisterResult(
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("db_path")] string DbPath,
    [property: JsonPropertyName("final_txid")] ulong FinalTxid,
    [property: JsonPropertyName("socket")] string Socket);

/// <summary>Body of POST /halt (beyond upstream): the database and how long the halt may be held, in seconds (default 30, at most 600).</summary>
internal sealed record HaltRequest(
    [property: JsonPropertyName("path")] string? Path,
    [property: JsonPropertyName("timeout"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] int Timeout);

/// <summary>Reply of POST /halt: the id that unhalts it, the TXID every replica holds, when it is released unless unhalted.</summary>
internal sealed record HaltResponse(
    [property: JsonPropertyName("path")] string Path,
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("txid")] ulong Txid,
    [property: JsonPropertyName("expires_at")] string ExpiresAt);

/// <summary>Body of POST /unhalt.</summary>
internal sealed record UnhaltRequest(
    [property: JsonPropertyName("path")] string? Path,
    [property: JsonPropertyName("id")] string? Id);

/// <summary>Reply of POST /unhalt: status unhalted.</summary>
internal sealed record UnhaltResponse(
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("path")] string Path,
    [property: JsonPropertyName("txid")] ulong Txid);

/// <summary>One page of a forwarded transaction: its number and its new content (base64 in the JSON).</summary>
internal sealed record ForwardPage(
    [property: JsonPropertyName("pgno")] uint Pgno,
    [property: JsonPropertyName("data")] byte[]? Data);

/// <summary>
/// Body of POST /forward: the pages a replica node's transaction changed, made on a copy at <c>txid</c>, to apply
/// inside the halt <c>id</c> holds; <c>commit</c> is the database's size in pages after it.
/// </summary>
internal sealed record ForwardRequest(
    [property: JsonPropertyName("path")] string? Path,
    [property: JsonPropertyName("id")] string? Id,
    [property: JsonPropertyName("txid")] ulong Txid,
    [property: JsonPropertyName("commit")] uint Commit,
    [property: JsonPropertyName("pages")] List<ForwardPage>? Pages);

/// <summary>Reply of POST /forward: the TXID of the applied transaction, which every replica holds.</summary>
internal sealed record ForwardResponse(
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("path")] string Path,
    [property: JsonPropertyName("txid")] ulong Txid);

/// <summary>
/// Reply of GET /lag?path= (beyond upstream): the newest local TXID, the newest every replica holds, the difference,
/// and for how long the replicas have been behind (0 when caught up; null when no replica was ever reached).
/// </summary>
internal sealed record LagResponse(
    [property: JsonPropertyName("path")] string Path,
    [property: JsonPropertyName("txid")] ulong Txid,
    [property: JsonPropertyName("replicated_txid")] ulong ReplicatedTxid,
    [property: JsonPropertyName("behind_txids")] ulong BehindTxids,
    [property: JsonPropertyName("lag_seconds")] double? LagSeconds);
