using System.Runtime.InteropServices;

namespace Litestream.Aot.Cli;

/// <summary>
/// SIGINT and SIGTERM cancel the root token, and a command stops cleanly where it next observes it. Work that
/// cannot observe it and leaves nothing to undo (reading and parsing the config: a read of a silent stdin
/// blocks) runs inside <see cref="ExitOnSignal"/>, where a signal ends the process at once with 128 + the
/// signal number and one line saying what was interrupted, instead of being swallowed by the handler.
/// </summary>
internal static class Interruption
{
    private static readonly Lock s_lock = new();
    private static int s_depth;
    private static string? s_work;
    private static PosixSignal? s_received;

    /// <summary>
    /// Until the scope is disposed, a signal exits the process; <paramref name="work"/> names what it interrupts.
    /// A signal that came before (during start-up) exits now: nothing would observe it later.
    /// </summary>
    public static Scope ExitOnSignal(string work)
    {
        lock (s_lock)
        {
            s_depth++;
            s_work ??= work;
            if (s_received is { } signal)
            {
                Exit(signal);
            }
        }
        return default;
    }

    /// <summary>The first SIGINT or SIGTERM received; null before one arrives.</summary>
    public static PosixSignal? Received
    {
        get
        {
            lock (s_lock)
            {
                return s_received;
            }
        }
    }

    /// <summary>"SIGINT" or "SIGTERM".</summary>
    public static string Name(PosixSignal signal) => signal == PosixSignal.SIGINT ? "SIGINT" : "SIGTERM";

    /// <summary>128 + the signal's number, as a shell reports a process the signal ended: 130 (SIGINT) or 143 (SIGTERM).</summary>
    public static int ExitCode(PosixSignal signal) => signal == PosixSignal.SIGINT ? 130 : 143;

    /// <summary>Called by the signal handler before the root token is cancelled: records the signal, and ends the process inside a section.</summary>
    public static void Signalled(PosixSignal signal)
    {
        // The lock is held through the exit, so a scope cannot end, and work with side effects begin, meanwhile.
        lock (s_lock)
        {
            s_received ??= signal;
            if (s_depth > 0)
            {
                Exit(signal);
            }
        }
    }

    private static void Exit(PosixSignal signal)
    {
        Console.Error.WriteLine($"error: interrupted by {Name(signal)} while {s_work}");
        Console.Error.Flush();
        Environment.Exit(ExitCode(signal));
    }

    /// <summary>Ends an <see cref="ExitOnSignal"/> section.</summary>
    public readonly struct Scope : IDisposable
    {
        public void Dispose()
        {
            lock (s_lock)
            {
                if (--s_depth == 0)
                {
                    s_work = null;
                }
            }
        }
    }
}
