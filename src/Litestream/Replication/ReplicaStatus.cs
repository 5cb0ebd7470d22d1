using Litestream.Ltx;

namespace Litestream.Replication;

/// <summary>
/// One replica's state as every observability surface shows it (<c>status</c>, <c>databases</c>, the control
/// socket's <c>/list</c> and <c>/info</c>, metrics): its name and type, the TXID it holds, <see cref="State"/>, how
/// far it is behind the local database and the last upload error. <see cref="Create"/> is the one rule, whether
/// the facts come from the running process (<see cref="Replica.GetStatus"/>) or from its health file.
/// </summary>
/// <param name="Name">The name among its database's replicas.</param>
/// <param name="Type">The backend type (file, s3, …).</param>
/// <param name="Txid">The TXID the replica holds; null before first contact.</param>
/// <param name="State"><see cref="Ok"/>, <see cref="Behind"/> or <see cref="Error"/>.</param>
/// <param name="LastError">The last upload error while uploads fail; null once one succeeds.</param>
public sealed record ReplicaStatus(string Name, string Type, Txid? Txid, string State, string? LastError)
{
    /// <summary>Holds the newest local TXID, or trails it by less than its sync interval plus <see cref="ReplicationHealth.LagGrace"/>.</summary>
    public const string Ok = "ok";

    /// <summary>Trails the local database longer than its allowance (an upload hanging before its timeout), or was released past the backlog bound.</summary>
    public const string Behind = "behind";

    /// <summary>Its last upload failed (retried with backoff).</summary>
    public const string Error = "error";

    /// <summary>TXIDs the replica lacks: the local TXID minus the one it holds (all of them before first contact).</summary>
    public ulong TxidsBehind { get; init; }

    /// <summary>Seconds it has not been confirmed in sync: 0 while it holds the newest local TXID, else since the oldest TXID it lacks was captured.</summary>
    public double LagSeconds { get; init; }

    /// <summary>
    /// The status from the facts: a replica <paramref name="name"/> of type <paramref name="type"/> holding
    /// <paramref name="held"/> (null: never reached since <paramref name="startedAt"/>) of a database at
    /// <paramref name="local"/>; <paramref name="oldestMissingAt"/> is when the oldest TXID it lacks was captured
    /// (null: unknown, counted from <paramref name="startedAt"/>). The state is <see cref="Error"/> while
    /// <paramref name="lastError"/> is set, <see cref="Behind"/> when <paramref name="released"/> or lacking TXIDs for
    /// longer than <paramref name="allowance"/>, else <see cref="Ok"/>.
    /// </summary>
    public static ReplicaStatus Create(string name, string type, Txid local, Txid? held, DateTimeOffset? oldestMissingAt, DateTimeOffset startedAt,
        string? lastError, bool released, TimeSpan allowance, DateTimeOffset now)
    {
        DateTimeOffset? pending = local.IsZero || held >= local ? null : held is null ? startedAt : oldestMissingAt ?? startedAt;
        string state = lastError is not null ? Error
            : released || (pending is { } p && now - p > allowance) ? Behind
            : Ok;
        return new ReplicaStatus(name, type, held, state, lastError)
        {
            TxidsBehind = held is { } h ? (local > h ? local.Value - h.Value : 0) : local.Value,
            LagSeconds = pending is { } since ? Math.Round(Math.Max(0, (now - since).TotalSeconds), 1) : 0,
        };
    }
}
