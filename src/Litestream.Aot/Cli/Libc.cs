using System.Runtime.InteropServices;

namespace Litestream.Aot.Cli;

/// <summary>The few libc calls the CLI needs.</summary>
internal static partial class Libc
{
    public const int SigInt = 2;
    public const int SigTerm = 15;
    public const int SigXfsz = 25;

    private const nint SigDfl = 0;
    private const nint SigIgn = 1;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int KillNative(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "signal")]
    private static partial nint SignalNative(int signal, nint handler);

    /// <summary>Sends a signal; a process that already exited is not an error.</summary>
    public static void Kill(int pid, int signal) => _ = KillNative(pid, signal);

    /// <summary>
    /// Gives a signal the process inherited as ignored (<c>nohup cmd &amp;</c>, a backgrounded CI job) back its default
    /// action, and leaves any other disposition alone. .NET keeps an inherited SIG_IGN even when a handler is
    /// registered (it records the disposition once, when the console or the first registration initializes signal
    /// handling), so this must run before either.
    /// </summary>
    public static void Unignore(int signal)
    {
        nint previous = SignalNative(signal, SigDfl);
        if (previous != SigIgn)
        {
            _ = SignalNative(signal, previous);
        }
    }
}
