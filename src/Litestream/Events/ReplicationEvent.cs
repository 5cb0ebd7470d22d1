using Litestream.Ltx;
using Litestream.Replication;

namespace Litestream.Events;

/// <summary>What a <see cref="ReplicationEvent"/> reports (LiteFS's <c>/events</c> types, plus errors).</summary>
public enum ReplicationEventKind
{
    /// <summary>A transaction reached the replica (its upload was confirmed), or a follower applied it.</summary>
    Tx,

    /// <summary>This process took or lost the database's lease (it became, or stopped being, the primary).</summary>
    PrimaryChange,

    /// <summary>A sync or an upload failed (it is retried), or this subscriber fell behind and was dropped.</summary>
    Error,
}

/// <summary>
/// One event of a database's replication, as <see cref="Store.SubscribeEvents"/> and a follower deliver it. Which
/// properties are set depends on <see cref="Kind"/>: a <see cref="ReplicationEventKind.Tx"/> has
/// <see cref="Txid"/>, <see cref="Timestamp"/> and <see cref="Size"/>; a
/// <see cref="ReplicationEventKind.PrimaryChange"/> has <see cref="IsPrimary"/>, the holder's <see cref="Host"/>,
/// <see cref="Pid"/> and <see cref="Generation"/> and, when lost, a <see cref="Message"/>; an
/// <see cref="ReplicationEventKind.Error"/> has <see cref="Message"/> (never a secret: it is redacted).
/// </summary>
public sealed record class ReplicationEvent
{
    internal ReplicationEvent(ReplicationEventKind kind, string db)
    {
        Kind = kind;
        Db = db;
    }

    /// <summary>The event's type.</summary>
    public ReplicationEventKind Kind { get; }

    /// <summary>The database's full path (empty for an event about the subscription itself).</summary>
    public string Db { get; }

    /// <summary>Tx: the transaction (for a file of several, its last).</summary>
    public Txid Txid { get; internal init; }

    /// <summary>Tx: when the primary captured the transaction (its LTX header's timestamp).</summary>
    public DateTimeOffset Timestamp { get; internal init; }

    /// <summary>Tx: the bytes its LTX file holds on the replica (or, for a follower, the bytes it downloaded).</summary>
    public long Size { get; internal init; }

    /// <summary>PrimaryChange: true when this process took the lease, false when it lost or released it.</summary>
    public bool IsPrimary { get; internal init; }

    /// <summary>PrimaryChange: the host of the holder this event is about (this process's).</summary>
    public string? Host { get; internal init; }

    /// <summary>PrimaryChange: the holder's process id.</summary>
    public int Pid { get; internal init; }

    /// <summary>PrimaryChange: the lease generation (the NodeID every LTX file uploaded under it carries).</summary>
    public long Generation { get; internal init; }

    /// <summary>Error: what failed; PrimaryChange: why the lease was lost. Redacted.</summary>
    public string? Message { get; internal init; }
}
