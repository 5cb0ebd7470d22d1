namespace Litestream.Replication;

/// <summary>A database that stopped replicating on its own while its <see cref="Store"/> ran (see <see cref="Store.DatabaseStopped"/>).</summary>
public sealed class DatabaseStoppedEventArgs(Replica replica, Exception? reason) : EventArgs
{
    /// <summary>The database's replica; it has left the store.</summary>
    public Replica Replica { get; } = replica;

    /// <summary>Why: a <see cref="DatabaseLockedException"/>, a lost lease, or null when nothing was thrown.</summary>
    public Exception? Reason { get; } = reason;
}
