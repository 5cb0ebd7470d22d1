namespace Litestream.Vfs;

/// <summary>
/// A page cannot be read now but may be on a retry: its LTX file vanished (compaction or retention) and a
/// rebuilt index did not bring it back. The VFS answers SQLITE_BUSY, as upstream does.
/// </summary>
internal sealed class VfsBusyException : IOException
{
    public VfsBusyException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
