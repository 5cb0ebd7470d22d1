using System.Runtime.InteropServices;

namespace Litestream.Aot.Cli;

/// <summary>The few libc calls the CLI needs.</summary>
internal static partial class Libc
{
    public const int SigInt = 2;
    public const int SigTerm = 15;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int KillNative(int pid, int signal);

    /// <summary>Sends a signal; a process that already exited is not an error.</summary>
    public static void Kill(int pid, int signal) => _ = KillNative(pid, signal);

    private const int AtFdCwd = -100;
    private const uint StatxType = 0x1;
    private const int StatxModeOffset = 28; // struct statx: u32 mask, u32 blksize, u64 attributes, u32 nlink, u32 uid, u32 gid, u16 mode
    private const int FileTypeMask = 0xF000;
    private const int RegularFile = 0x8000;

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static unsafe partial int StatxNative(int directory, string path, int flags, uint mask, byte* buffer);

    /// <summary>
    /// True when <paramref name="path"/> (symlinks followed) exists and is not a regular file: a directory, FIFO,
    /// socket or device, which .NET cannot tell apart from a file without opening it (and opening a FIFO blocks).
    /// </summary>
    public static unsafe bool IsSpecialFile(string path)
    {
        byte* statx = stackalloc byte[256]; // sizeof(struct statx)
        if (StatxNative(AtFdCwd, path, 0, StatxType, statx) != 0)
        {
            return false;
        }
        return (*(ushort*)(statx + StatxModeOffset) & FileTypeMask) != RegularFile;
    }
}
