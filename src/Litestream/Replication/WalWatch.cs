using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Litestream.Replication;

/// <summary>
/// Wakes a database's monitor loop when its WAL is written: a one-shot Linux inotify watch on the WAL file
/// (<c>IN_ONESHOT</c>), armed again by the loop before each capture. The kernel reports the first write after
/// <see cref="Arm"/> and drops the watch, so an application committing 50 000 times a second pays for one
/// event per capture. A permanent watch (what <see cref="FileSystemWatcher"/> sets, on the whole directory)
/// queues an event and wakes our reader on every <c>write()</c> the application makes: measured, that alone
/// took ~35 % of a SQLite writer's throughput on 2 cores, with one involuntary context switch per commit.
/// </summary>
/// <remarks>
/// Every watch of the process shares one inotify instance and one reader thread blocked in <c>read()</c>
/// (nothing wakes while nothing is written; the per-user limit of 128 inotify instances stays out of reach
/// with many databases). When the WAL does not exist, the directory is watched for a file created in it.
/// </remarks>
internal sealed partial class WalWatch : IDisposable
{
    private const uint InModify = 0x2;
    private const uint InMovedTo = 0x80;
    private const uint InCreate = 0x100;
    private const uint InDeleteSelf = 0x400;
    private const uint InMoveSelf = 0x800;
    internal const uint InQueueOverflow = 0x4000;
    private const uint InIgnored = 0x8000;
    private const uint InOneShot = 0x80000000;
    private const int InCloexec = 0x80000;
    private const int Enoent = 2;
    private const int Eintr = 4;
    private const uint WalMask = InModify | InDeleteSelf | InMoveSelf | InOneShot;
    private const uint DirectoryMask = InCreate | InMovedTo | InOneShot;
    private const int EventHeaderSize = 16;

    private static readonly Lock s_lock = new();
    private static readonly List<WalWatch> s_watches = [];
    private static int s_fd = -1;
    private static bool s_readerFailed;

    private readonly string _walPath;
    private readonly string _directory;
    private readonly Action _changed;
    private int _wd = -1;
    private bool _disposed;

    private WalWatch(string walPath, Action changed)
    {
        _walPath = walPath;
        _directory = Path.GetDirectoryName(walPath)!;
        _changed = changed;
    }

    /// <summary>
    /// A watch of <paramref name="walPath"/> that calls <paramref name="changed"/> (on the reader thread, so it
    /// must only signal) after
    /// each <see cref="Arm"/> once the WAL is written; null, with the reason, where inotify is not available.
    /// </summary>
    public static WalWatch? TryCreate(string walPath, Action changed, out string? error)
    {
        error = null;
        if (!OperatingSystem.IsLinux())
        {
            error = "inotify is Linux only";
            return null;
        }
        lock (s_lock)
        {
            try
            {
                if (s_fd < 0)
                {
                    int fd = InotifyInit1(InCloexec);
                    if (fd < 0)
                    {
                        error = $"inotify_init1: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}";
                        return null;
                    }
                    s_fd = fd;
                    new Thread(ReadEvents, 64 * 1024) { IsBackground = true, Name = "litestream wal watch" }.Start();
                }
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                error = e.Message;
                return null;
            }
            var watch = new WalWatch(walPath, changed);
            s_watches.Add(watch);
            return watch;
        }
    }

    /// <summary>
    /// Watches for the next write of the WAL (or, while it does not exist, the next file created in its
    /// directory). Call it before reading the WAL, so a commit landing after the read still wakes the loop.
    /// Returns false when no watch could be set (the caller then only has its polling interval).
    /// </summary>
    public bool Arm()
    {
        lock (s_lock)
        {
            if (_disposed || s_readerFailed)
            {
                return false;
            }
            int wd = InotifyAddWatch(s_fd, _walPath, WalMask);
            if (wd < 0 && Marshal.GetLastPInvokeError() == Enoent)
            {
                wd = InotifyAddWatch(s_fd, _directory, DirectoryMask);
            }
            if (_wd >= 0 && _wd != wd)
            {
                Forget(_wd);
            }
            _wd = wd;
            return wd >= 0;
        }
    }

    /// <summary>Stops watching.</summary>
    public void Dispose()
    {
        lock (s_lock)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            s_watches.Remove(this);
            if (_wd >= 0)
            {
                Forget(_wd);
                _wd = -1;
            }
        }
    }

    /// <summary>
    /// Removes the kernel watch as if its event had been lost (tests): the next write wakes nobody, only the monitor's
    /// quiet backstop or an <c>IN_Q_OVERFLOW</c> finds it.
    /// </summary>
    internal void DropKernelWatch()
    {
        lock (s_lock)
        {
            if (_wd >= 0)
            {
                _ = InotifyRmWatch(s_fd, _wd);
            }
        }
    }

    /// <summary>Removes a kernel watch this one no longer uses, unless another database's watch shares it (same file or directory).</summary>
    private static void Forget(int wd)
    {
        foreach (WalWatch other in s_watches)
        {
            if (other._wd == wd && !other._disposed)
            {
                return;
            }
        }
        _ = InotifyRmWatch(s_fd, wd); // already gone (fired, file deleted) is fine
    }

    private static unsafe void ReadEvents()
    {
        const int size = 4096; // an event is 16 bytes plus, for a directory watch, the name (at most 256)
        byte* buffer = (byte*)NativeMemory.Alloc(size);
        while (true)
        {
            nint read = Read(s_fd, buffer, size);
            if (read < 0)
            {
                if (Marshal.GetLastPInvokeError() == Eintr)
                {
                    continue;
                }
                lock (s_lock)
                {
                    s_readerFailed = true; // Arm says so from now on: monitor loops poll at their interval
                    foreach (WalWatch watch in s_watches)
                    {
                        watch._changed(); // wake every loop now, so none sleeps through a change it will never hear of
                    }
                }
                return;
            }
            var events = new ReadOnlySpan<byte>(buffer, (int)read);
            while (events.Length >= EventHeaderSize)
            {
                int wd = BinaryPrimitives.ReadInt32LittleEndian(events);
                uint mask = BinaryPrimitives.ReadUInt32LittleEndian(events[4..]);
                int nameLength = checked((int)BinaryPrimitives.ReadUInt32LittleEndian(events[12..]));
                Dispatch(wd, mask);
                events = events[Math.Min(events.Length, EventHeaderSize + nameLength)..];
            }
        }
    }

    /// <summary>
    /// Hands one event to the watches it is for: every watch on an <c>IN_Q_OVERFLOW</c> (the kernel dropped events, so
    /// any database may have changed unheard: each monitor looks now instead of at its quiet backstop).
    /// </summary>
    internal static void Dispatch(int wd, uint mask)
    {
        lock (s_lock)
        {
            foreach (WalWatch watch in s_watches)
            {
                if ((mask & InQueueOverflow) != 0 || watch._wd == wd)
                {
                    if ((mask & InIgnored) != 0)
                    {
                        watch._wd = -1; // the kernel dropped the watch (after its one event, or the file is gone)
                    }
                    else
                    {
                        watch._changed();
                    }
                }
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "inotify_init1", SetLastError = true)]
    private static partial int InotifyInit1(int flags);

    [LibraryImport("libc", EntryPoint = "inotify_add_watch", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int InotifyAddWatch(int fd, string path, uint mask);

    [LibraryImport("libc", EntryPoint = "inotify_rm_watch")]
    private static partial int InotifyRmWatch(int fd, int wd);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static unsafe partial nint Read(int fd, byte* buffer, nint count);
}
