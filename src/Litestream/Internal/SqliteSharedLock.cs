using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Litestream.Internal;

/// <summary>
/// A read lock on the byte range SQLite's SHARED lock uses in a database file, taken as an open file description lock
/// (Linux <c>F_OFD_SETLK</c>) on the replicator's own descriptor. While it is held no connection can take the EXCLUSIVE
/// lock, so an application's last connection closes without checkpointing and deleting the WAL (the WAL goes on, and
/// its frames reach us through it), exactly as when our SQLite connections are open, but without them: an idle
/// database keeps this and no connection. Unlike a classic POSIX lock it belongs to the descriptor, not the process:
/// another descriptor of the file closing in this process (SQLite's own, a probe) does not drop it, and it conflicts
/// with an application in this process too. Writers in WAL mode lock the shared memory, not this range: unaffected.
/// </summary>
internal static partial class SqliteSharedLock
{
    // SQLite's os_unix.c: PENDING_BYTE 0x40000000, SHARED_FIRST = PENDING_BYTE + 2, SHARED_SIZE 510.
    private const long SharedFirst = 0x40000000L + 2;
    private const long SharedSize = 510;
    private const int FOfdSetlk = 37;
    private const short FRdlck = 0;

    [StructLayout(LayoutKind.Sequential)]
    private struct Flock
    {
        public short Type;
        public short Whence;
        public long Start;
        public long Length;
        public int Pid;
    }

    /// <summary>Takes the lock (held until <paramref name="database"/> closes); false where it is not available (not Linux, an old kernel).</summary>
    public static bool TryHold(SafeFileHandle database)
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture is not (Architecture.X64 or Architecture.Arm64))
        {
            return false;
        }
        var flock = new Flock { Type = FRdlck, Whence = 0, Start = SharedFirst, Length = SharedSize };
        return Fcntl(database, FOfdSetlk, ref flock) == 0;
    }

    [LibraryImport("libc", EntryPoint = "fcntl")]
    private static partial int Fcntl(SafeFileHandle fd, int command, ref Flock flock);
}
