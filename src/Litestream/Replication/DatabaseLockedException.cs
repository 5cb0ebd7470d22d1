namespace Litestream.Replication;

/// <summary>
/// Another process (or another <see cref="Db"/> in this one) already replicates the database: it holds the
/// exclusive lock on the database's meta directory. Two replicators on one database overwrite each other's
/// local files and leave the replica unrestorable, so the second one must stop instead of retrying.
/// </summary>
public sealed class DatabaseLockedException : IOException
{
    /// <summary>Creates the exception for <paramref name="path"/>, held by <paramref name="ownerPid"/> when it is known.</summary>
    public DatabaseLockedException(string path, int? ownerPid)
        : base($"{path} is already replicated by {(ownerPid is { } pid ? $"pid {pid}" : "another process")}")
    {
        Path = path;
        OwnerPid = ownerPid;
    }

    /// <summary>The database.</summary>
    public string Path { get; }

    /// <summary>The process holding the lock, as it recorded itself in the lock file; null when unreadable.</summary>
    public int? OwnerPid { get; }

    /// <summary>What the user can do about it.</summary>
    public string Hint => OwnerPid is { } pid
        ? $"one process replicates a database: stop the other one (kill {pid}) first, or leave it running and do not start this one"
        : "one process replicates a database: stop the other one first";
}
