using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Litestream.Internal;

/// <summary>Durable file operations: fsync of files and directories, atomic replace.</summary>
internal static partial class FileUtil
{
    private static bool s_libcUnavailable;

    /// <summary>
    /// Asks the kernel to start writing a file's dirty pages to disk now, without waiting (Linux
    /// <c>sync_file_range(SYNC_FILE_RANGE_WRITE)</c> over the whole file). A restore calls it as each part
    /// of a large file lands, so the disk writes overlap the download and the final fsync finds little left
    /// to do (it took 0.42 s of a 2.6 s restore of 1 GB). Only a hint: where the call is missing or
    /// refused, nothing changes but the timing.
    /// </summary>
    public static void StartWriteback(SafeFileHandle file) => Hint(() => SyncFileRange(file, 0, 0, SyncFileRangeWrite));

    private const uint SyncFileRangeWrite = 2;

    /// <summary>
    /// Reserves <paramref name="length"/> bytes for a file about to be written out of order (Linux
    /// <c>fallocate</c>), so the file system allocates its extents once instead of page run by page run as
    /// parallel writers land. Only a hint, like <see cref="StartWriteback"/>.
    /// </summary>
    public static void Preallocate(SafeFileHandle file, long length)
    {
        if (length > 0)
        {
            Hint(() => Fallocate(file, 0, 0, length));
        }
    }

    /// <summary>
    /// Makes a libc call whose result is only a hint: its return code is ignored, and once libc or the entry
    /// point is missing (not Linux/glibc) no further call is tried.
    /// </summary>
    private static void Hint(Func<int> call)
    {
        if (s_libcUnavailable || !OperatingSystem.IsLinux())
        {
            return;
        }
        try
        {
            _ = call();
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            s_libcUnavailable = true;
        }
    }

    /// <summary>
    /// Links <paramref name="existing"/> under the new name <paramref name="link"/> (link(2)); false where that is
    /// not possible (another file system, a file system without hard links, not Linux): the caller copies instead.
    /// </summary>
    public static bool TryHardLink(string existing, string link)
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }
        try
        {
            return Link(existing, link) == 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    [LibraryImport("libc", EntryPoint = "link", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Link(string existing, string link);

    [LibraryImport("libc", EntryPoint = "fallocate")]
    private static partial int Fallocate(SafeFileHandle fd, int mode, long offset, long length);

    [LibraryImport("libc", EntryPoint = "sync_file_range")]
    private static partial int SyncFileRange(SafeFileHandle fd, long offset, long nbytes, uint flags);

    /// <summary>
    /// What <paramref name="path"/> is when it is something other than a regular file (following symbolic
    /// links): "fifo", "socket", "character device", "block device" or "directory"; null for a regular file,
    /// a missing one, or where statx(2) is unavailable. Opening a FIFO for reading blocks until a writer
    /// appears, and .NET has no way to tell its type before the open: a file named like replica data that
    /// is not a regular file would hang the reader.
    /// </summary>
    public static unsafe string? NonRegularKind(string path)
    {
        byte* statx = stackalloc byte[StatxSize];
        if (TryStatx(path, StatxType, statx) != true)
        {
            return null;
        }
        return (*(ushort*)(statx + StatxModeOffset) & FileTypeMask) switch
        {
            0x8000 => null,
            0x1000 => "fifo",
            0xC000 => "socket",
            0x2000 => "character device",
            0x6000 => "block device",
            0x4000 => "directory",
            int other => $"file of type 0x{other:x4}",
        };
    }

    /// <summary>
    /// The identity (device and inode) of the file at <paramref name="path"/> now, following symbolic links; null when it
    /// does not exist, and also where statx is unavailable (then every file looks the same: callers treat null as unknown
    /// only together with <see cref="File.Exists(string)"/>).
    /// </summary>
    public static unsafe (ulong Device, ulong Inode)? FileId(string path)
    {
        byte* statx = stackalloc byte[StatxSize];
        switch (TryStatx(path, StatxIno, statx))
        {
            case null:
                return File.Exists(path) ? (0, 0) : null;
            case false:
                return null;
        }
        ulong device = ((ulong)*(uint*)(statx + StatxDevMajorOffset) << 32) | *(uint*)(statx + StatxDevMinorOffset);
        return (device, *(ulong*)(statx + StatxInoOffset));
    }

    /// <summary>Throws when <paramref name="path"/> exists and is not a regular file (see <see cref="NonRegularKind"/>).</summary>
    /// <exception cref="IOException">It is a FIFO, socket, device or directory.</exception>
    public static void RequireRegularFile(string path)
    {
        if (NonRegularKind(path) is { } kind)
        {
            throw new IOException($"{path} is a {kind}, not a regular file: refusing to read it");
        }
    }

    /// <summary>statx(2) of <paramref name="path"/> into <paramref name="buffer"/>: true when it succeeded, false when it failed (no such file), null where statx is unavailable.</summary>
    private static unsafe bool? TryStatx(string path, uint mask, byte* buffer)
    {
        if (s_statxUnavailable || !OperatingSystem.IsLinux())
        {
            return null;
        }
        try
        {
            return Statx(AtFdCwd, path, 0, mask, buffer) == 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            s_statxUnavailable = true;
            return null;
        }
    }

    private static bool s_statxUnavailable;

    // struct statx (linux/stat.h) has the same layout on every architecture: stx_mode is a u16 at byte 28.
    private const int StatxSize = 256;
    private const int StatxModeOffset = 28;
    private const uint StatxType = 0x1;
    private const uint StatxIno = 0x100;
    // stx_ino is a u64 at byte 32; stx_dev_major and stx_dev_minor are u32s at bytes 136 and 140.
    private const int StatxInoOffset = 32;
    private const int StatxDevMajorOffset = 136;
    private const int StatxDevMinorOffset = 140;
    private const int AtFdCwd = -100;
    private const int FileTypeMask = 0xF000;

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int Statx(int dirfd, string path, int flags, uint mask, byte* buffer);

    /// <summary>
    /// Whether <paramref name="e"/> is EFBIG: a write or resize past the largest file the file system or
    /// <c>ulimit -f</c> allows. .NET reports it as an ArgumentOutOfRangeException for "value" ("Specified file
    /// length was too large for the file system"), which names neither the file nor the size.
    /// </summary>
    public static bool IsFileTooLarge(Exception e) => e is ArgumentOutOfRangeException { ParamName: "value" } or IOException { HResult: FileTooLargeErrno };

    private const int FileTooLargeErrno = 27;

    /// <summary>
    /// Flushes a directory entry to disk so a rename inside it survives a crash. Through libc's open(2) and fsync(2):
    /// .NET refuses to open a directory (File.OpenHandle throws UnauthorizedAccessException after opening it), so the
    /// way this used to go never flushed anything and cost a thrown exception, stack walk included, on every rename:
    /// every local L0 file and every file replica upload.
    /// </summary>
    public static void FsyncDirectory(string directory)
    {
        if (!OperatingSystem.IsLinux() || s_libcUnavailable)
        {
            return;
        }
        try
        {
            int fd = OpenDirectory(directory, OpenReadOnly | OpenCloseOnExec);
            if (fd < 0)
            {
                return; // gone or unreadable: the rename itself already happened
            }
            _ = Fsync(fd); // some file systems refuse fsync on directories (EINVAL): nothing more to do there
            _ = Close(fd);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            s_libcUnavailable = true;
        }
    }

    private const int OpenReadOnly = 0;
    private const int OpenCloseOnExec = 0x80000;

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int OpenDirectory(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync")]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);

    /// <summary>
    /// Renames <paramref name="temp"/> to <paramref name="destination"/> and fsyncs the directory. Without
    /// <paramref name="overwrite"/> an existing destination fails the move (an IOException) and stays as it was.
    /// </summary>
    public static void CommitRename(string temp, string destination, bool overwrite = true)
    {
        File.Move(temp, destination, overwrite);
        FsyncDirectory(Path.GetDirectoryName(Path.GetFullPath(destination))!);
    }

    /// <summary>Deletes a file, ignoring a file that is already gone.</summary>
    public static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}
