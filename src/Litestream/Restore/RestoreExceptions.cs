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

/// <summary>
/// The restore output, or a SQLite file beside it (<c>-wal</c>, <c>-shm</c>, <c>-journal</c>), already exists
/// and was not to be replaced.
/// </summary>
public sealed class OutputExistsException(string message, string hint) : IOException(message)
{
    /// <summary>What the user can do about it.</summary>
    public string Hint { get; } = hint;
}

/// <summary>
/// A Litestream v0.3 replica file encrypted with age could not be decrypted: no identity was configured, none
/// matches, or the file fails authentication. The message names the file; nothing of it was written out.
/// </summary>
public sealed class AgeDecryptionException : IOException
{
    /// <summary>Creates the exception.</summary>
    public AgeDecryptionException(string message, string hint) : base(message) => Hint = hint;

    /// <summary>What the user can do about it.</summary>
    public string Hint { get; }
}
