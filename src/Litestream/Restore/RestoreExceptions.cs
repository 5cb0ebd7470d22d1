namespace Litestream.Restore;

/// <summary>The replica holds no backup to restore from (upstream <c>ErrNoSnapshots</c>/empty plan).</summary>
public sealed class NoBackupException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public NoBackupException(string message) : base(message)
    {
    }
}

/// <summary>The requested TXID or time is not covered by the replica (upstream <c>ErrTxNotAvailable</c>).</summary>
public sealed class TxNotAvailableException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public TxNotAvailableException(string message) : base(message)
    {
    }
}

/// <summary>The replica's files do not form a continuous chain to the latest state.</summary>
public sealed class NonContiguousReplicaException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public NonContiguousReplicaException(string message) : base(message)
    {
    }
}
