namespace Litestream.Replication;

/// <summary>
/// The local replication state (the staged L0 files in the meta directory) is damaged, so the position
/// cannot be trusted (upstream <c>LTXError</c> with its recovery hint). With
/// <see cref="ReplicaOptions.AutoRecover"/> the store resets the local state and continues with a snapshot;
/// otherwise the error is reported and retried until someone resets it.
/// </summary>
public sealed class LocalStateException : IOException
{
    /// <summary>Creates the exception for the damaged file at <paramref name="path"/>.</summary>
    public LocalStateException(string message, string path, Exception? innerException = null) : base(message, innerException)
    {
        Path = path;
        Hint = "set auto-recover: true on the replica, or delete the database's -litestream meta directory and restart; the next sync writes a full snapshot";
    }

    /// <summary>The damaged local file.</summary>
    public string Path { get; }

    /// <summary>What the user can do about it.</summary>
    public string Hint { get; }
}
