using Litestream.Internal;

namespace Litestream;

/// <summary>
/// What a path is when it is not a regular file. Opening a FIFO for reading blocks until a writer appears, and .NET
/// cannot tell a file's type before the open: whatever scans for databases or replica files asks here first.
/// </summary>
public static class FileKind
{
    /// <summary>
    /// "fifo", "socket", "character device", "block device" or "directory" when <paramref name="path"/> (following
    /// symbolic links) is one; null for a regular file, a missing one, or where statx(2) is unavailable.
    /// </summary>
    public static string? NonRegular(string path) => FileUtil.NonRegularKind(path);
}
