using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Litestream.Replication;

/// <summary>
/// The one-replicator-per-database lock: an exclusive <c>flock</c> on <c>&lt;meta&gt;/replicate.lock</c>, which
/// holds the owner's pid so a second replicator can say who has it. The kernel drops the lock when the owner's
/// descriptor closes, so a process killed with SIGKILL leaves no stale lock behind (a pid file alone would).
/// Covers one host; the replica lease of upstream covers several.
/// </summary>
/// <remarks>
/// libc directly, not <see cref="FileStream"/>: .NET takes its own advisory <c>flock</c> on every file it opens
/// (shared unless <see cref="FileShare.None"/>), so the second process could not even open the file to read the
/// owner's pid, and <c>DOTNET_SYSTEM_IO_DISABLEFILELOCKING</c> would switch the protection off.
/// </remarks>
internal sealed partial class ReplicationLock : IDisposable
{
    internal const string FileName = "replicate.lock";

    // Linux values (x64 and arm64 share them).
    private const int ORdWr = 0x2;
    private const int OCreat = 0x40;
    private const int OCloExec = 0x80000; // an -exec child must not inherit (and keep) the lock
    private const int LockEx = 2;
    private const int LockNb = 4;
    private const int EWouldBlock = 11;
    private const int SelfHeldPatienceMs = 1000;

    private readonly SafeFileHandle _handle;

    private ReplicationLock(SafeFileHandle handle) => _handle = handle;

    /// <summary>
    /// Takes the lock for the database at <paramref name="dbPath"/> whose meta directory is <paramref name="metaPath"/>
    /// (created if missing); null where there is no <c>flock</c> (not Linux, or a file system that refuses it).
    /// </summary>
    /// <exception cref="DatabaseLockedException">Another process, or another open file in this one, holds it.</exception>
    /// <exception cref="IOException">The lock file cannot be created.</exception>
    public static ReplicationLock? Acquire(string metaPath, string dbPath)
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }
        Directory.CreateDirectory(metaPath);
        string path = Path.Combine(metaPath, FileName);
        int fd = Open(path, ORdWr | OCreat | OCloExec, 0x1A4 /* 0644 */);
        if (fd < 0)
        {
            int error = Marshal.GetLastPInvokeError();
            throw new IOException($"cannot open lock file {path}: {Marshal.GetPInvokeErrorMessage(error)}", error);
        }
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        long started = Environment.TickCount64;
        while (Flock(handle, LockEx | LockNb) != 0)
        {
            int error = Marshal.GetLastPInvokeError();
            if (error != EWouldBlock)
            {
                // ENOLCK/EOPNOTSUPP: a file system without flock. Replicate unprotected rather than not at all.
                handle.Dispose();
                return null;
            }
            int? owner = ReadPid(handle);
            // Held "by this process" right after it let go: a child forked by another thread (Process.Start) shares the
            // descriptor until its exec closes it (close-on-exec), a moment later. A real holder here keeps it.
            if (owner == Environment.ProcessId && Environment.TickCount64 - started < SelfHeldPatienceMs)
            {
                Thread.Sleep(20);
                continue;
            }
            handle.Dispose();
            throw new DatabaseLockedException(dbPath, owner);
        }
        byte[] pid = Encoding.ASCII.GetBytes(Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n");
        if (Ftruncate(handle, 0) == 0)
        {
            RandomAccess.Write(handle, pid, 0);
        }
        return new ReplicationLock(handle);
    }

    /// <summary>Releases the lock (closing the descriptor is what releases it).</summary>
    public void Dispose() => _handle.Dispose();

    private static int? ReadPid(SafeFileHandle handle)
    {
        Span<byte> buffer = stackalloc byte[16];
        int read = RandomAccess.Read(handle, buffer, 0);
        return int.TryParse(Encoding.ASCII.GetString(buffer[..read]).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int pid) && pid > 0
            ? pid
            : null;
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    private static partial int Flock(SafeFileHandle fd, int operation);

    [LibraryImport("libc", EntryPoint = "ftruncate", SetLastError = true)]
    private static partial int Ftruncate(SafeFileHandle fd, long length);
}
