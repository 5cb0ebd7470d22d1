using System.Runtime.InteropServices;

namespace Litestream.Aot.Cli;

/// <summary>The few libc calls the CLI needs.</summary>
internal static partial class Libc
{
    public const int SigTerm = 15;
    public const int SigXfsz = 25;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int KillNative(int pid, int signal);

    /// <summary>Sends a signal; a process that already exited is not an error.</summary>
    public static void Kill(int pid, int signal) => _ = KillNative(pid, signal);
}
