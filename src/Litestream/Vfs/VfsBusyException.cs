namespace Litestream.Vfs;

/// <summary>
/// A page cannot be read now but may be on a retry: its LTX file vanished (compaction or retention) and a
/// rebuilt index did not bring it back. Or a write transaction cannot start: another writer holds the replica's
/// lease, the replica moved on (conflict), or this connection read an older state. The VFS answers SQLITE_BUSY, as
/// upstream does, and logs the message.
/// </summary>
internal sealed class VfsBusyException : IOException
{
    public VfsBusyException(string message)
        : base(message)
    {
    }

    public VfsBusyException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
