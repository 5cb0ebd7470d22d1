using System.Text.Json.Serialization;

namespace Litestream.Client;

/// <summary>
/// One event of the daemon's stream (<c>GET /events</c>, LiteFS's shape): <see cref="Type"/> is <c>init</c>,
/// <c>tx</c>, <c>primaryChange</c> or <c>error</c>; <see cref="Db"/> the database it is about.
/// </summary>
public sealed class LitestreamEvent
{
    /// <summary>init, tx, primaryChange or error.</summary>
    [JsonPropertyName("type")]
    public string Type { get; init; } = "";

    /// <summary>The database's path on the daemon's machine (null for an error about no database).</summary>
    [JsonPropertyName("db")]
    public string? Db { get; init; }

    /// <summary>The event's fields; only those its type has are set.</summary>
    [JsonPropertyName("data")]
    public LitestreamEventData Data { get; init; } = new();
}

/// <summary>The fields of a <see cref="LitestreamEvent"/>.</summary>
public sealed class LitestreamEventData
{
    /// <summary>init: the TXID the replica holds; tx: the transaction's.</summary>
    [JsonPropertyName("txID"), JsonConverter(typeof(HexTxidConverter))]
    public ulong? Txid { get; init; }

    /// <summary>tx: when the primary captured it.</summary>
    [JsonPropertyName("timestamp")]
    public DateTimeOffset? Timestamp { get; init; }

    /// <summary>tx: bytes of its LTX file on the replica.</summary>
    [JsonPropertyName("size")]
    public long? Size { get; init; }

    /// <summary>init, primaryChange: whether that daemon replicates the database (holds its lease, if it has one).</summary>
    [JsonPropertyName("isPrimary")]
    public bool? IsPrimary { get; init; }

    /// <summary>init, primaryChange: the lease holder's host.</summary>
    [JsonPropertyName("hostname")]
    public string? Hostname { get; init; }

    /// <summary>init, primaryChange: the lease holder's process id.</summary>
    [JsonPropertyName("pid")]
    public int? Pid { get; init; }

    /// <summary>init, primaryChange: the lease generation.</summary>
    [JsonPropertyName("generation")]
    public long? Generation { get; init; }

    /// <summary>error: what failed; primaryChange: why the lease was lost or released.</summary>
    [JsonPropertyName("message")]
    public string? Message { get; init; }
}
