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

    private const int MArenaMax = -8; // glibc's M_ARENA_MAX

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int KillNative(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "signal")]
    private static partial nint SignalNative(int signal, nint handler);

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int Mallopt(int parameter, int value);

    /// <summary>How many malloc arenas glibc may create: <see cref="LimitMallocArenas"/>.</summary>
    public const int MallocArenas = 2;

    /// <summary>
    /// Caps glibc's malloc arenas at <see cref="MallocArenas"/> (default: 8 per core, one per thread that mallocs while
    /// another holds an arena). SQLite's connections, opened on whichever thread-pool thread a database's work runs,
    /// spread over a dozen arenas, and each keeps its own free chunks and minimum heap resident: issue 21, measured with
    /// 100 idle databases, 2.3 MB less idle RSS with one arena (bench/RESULTS.md). Two, so the threads that allocate at
    /// once (a sync beside a compaction) seldom wait on one lock. Before any thread but the runtime's mallocs. Returns
    /// false where there is no glibc (musl: its allocator has no arenas).
    /// </summary>
    public static bool LimitMallocArenas()
    {
        try
        {
            return Mallopt(MArenaMax, MallocArenas) == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

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
