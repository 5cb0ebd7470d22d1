using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Litestream;

/// <summary>
/// Gives memory back to the kernel after work that leaves much of it free: databases letting their SQLite connections
/// go, and a level-9 snapshot, whose megabytes of short-lived garbage the GC let gen2 keep (a daemon's RSS climbed
/// with every snapshot of 1 GB: 39.1 MB after 15, 30.8 MB with a collection after each; bench/RESULTS.md "Memory flat
/// with database size"). After a release: each connection holds ~150 KB of
/// malloc'ed memory (lookaside, page cache, schema), and a replicator starting 100 databases opens 200 of them at once,
/// on thread-pool threads that each get a glibc arena of their own. When the idle databases close them, glibc keeps
/// the freed chunks: measured with 100 idle databases, 30 MB of arenas stayed resident with 1.3 MB in use (RSS 58 MB,
/// 32 MB after one <c>malloc_trim</c>). glibc only returns the free top of an arena by itself, so the trim is asked
/// for explicitly, a second after a release and at most every ten seconds (a hundred releases of one burst make one
/// call of a few milliseconds; databases going idle all the time cost one call per ten seconds). The same moment
/// compacts the managed heap once, decommitting what the start-up's or the snapshot's work left committed (an
/// aggressive collection decommits the freed regions, which a forced compacting one does not: 34.3 MB).
/// </summary>
public static partial class HeapTrim
{
    private const long CompactBelow = 64 * 1024 * 1024;
    private const long WasteFloor = 1024 * 1024;

    private static readonly TimeSpan s_delay = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan s_spacing = TimeSpan.FromSeconds(10);
    private static readonly Lock s_lock = new();
    private static readonly Timer s_timer = new(_ => TrimNow(), null, Timeout.Infinite, Timeout.Infinite);
    private static bool s_pending;
    private static long s_trimmedAt;
    private static int s_unavailable;
    private static int s_trims;
    private static long s_gcIndexAtTrim;

    /// <summary>
    /// The host's own release step, run at the end of every trim (the exe's: the file pages of its code and read-only
    /// data, <c>StartupPages</c>), so the process gives its memory back at one moment, after the burst is over: with
    /// 1 000 databases the start-up's syncs go on well past the exe's first release, and mapped the code back.
    /// </summary>
    public static Func<long>? HostRelease { get; set; }

    /// <summary>Trims made so far (tests see the one a release leads to).</summary>
    internal static int TrimCount => Volatile.Read(ref s_trims);

    /// <summary>
    /// Looks every <paramref name="interval"/> whether the GC, since the last trim, collected and left at least a third
    /// as much again as its live data committed or free inside its regions (<see cref="Wasteful"/>), and if so schedules a
    /// trim: work that no database release follows leaves that behind, which a quiet heap keeps. Measured (issue 21):
    /// 1 000 idle databases' compaction instants every 5 minutes took the heap from 13.5 to 18 MB committed for ~11 MB
    /// live; 100 idle databases' gen0 collections after the start-up's trim left 3.5 MB free in a 6 MB heap. An idle
    /// heap runs no collection, so a quiet process does not trim; a busy one trims at most once an interval. The host
    /// decides (the exe does); dispose the returned timer to stop.
    /// </summary>
    public static IDisposable RecheckEvery(TimeSpan interval) => new Timer(static _ =>
    {
        GCMemoryInfo info = GC.GetGCMemoryInfo();
        if (Wasteful(info.Index, Volatile.Read(ref s_gcIndexAtTrim), info.HeapSizeBytes, info.FragmentedBytes, info.TotalCommittedBytes))
        {
            TrimSoon();
        }
    }, null, interval, interval);

    /// <summary>
    /// True when a collection ran since the one the last trim made (<paramref name="gcIndex"/> past
    /// <paramref name="gcIndexAtTrim"/>) and what the GC holds beyond its live data (free space in its regions and
    /// committed memory past the heap) is at least 1 MiB and a third of the live data.
    /// </summary>
    internal static bool Wasteful(long gcIndex, long gcIndexAtTrim, long heapBytes, long fragmentedBytes, long committedBytes)
    {
        long live = heapBytes - fragmentedBytes;
        long waste = fragmentedBytes + Math.Max(0, committedBytes - heapBytes);
        return gcIndex != gcIndexAtTrim && waste >= Math.Max(WasteFloor, live / 3);
    }

    /// <summary>Schedules a trim: a second from now, or ten seconds after the last one when that is later; once while one waits.</summary>
    public static void TrimSoon()
    {
        if (Volatile.Read(ref s_unavailable) != 0 || !OperatingSystem.IsLinux())
        {
            return;
        }
        lock (s_lock)
        {
            if (s_pending)
            {
                return;
            }
            s_pending = true;
            TimeSpan wait = s_delay;
            if (s_trimmedAt != 0 && s_spacing - Stopwatch.GetElapsedTime(s_trimmedAt) is var left && left > wait)
            {
                wait = left;
            }
            s_timer.Change(wait, Timeout.InfiniteTimeSpan);
        }
    }

    private static void TrimNow()
    {
        lock (s_lock)
        {
            s_pending = false;
            s_trimmedAt = Stopwatch.GetTimestamp();
        }
        // Aggressive: compacts and decommits the free regions and the gen0 budget the start-up's burst grew (100 idle
        // databases: 3 MB live of 7 MB committed). A blocking collection of a replicator's heap takes milliseconds; an
        // embedding application with a large heap is left to its own GC settings. The bound is over what a snapshot's
        // garbage grows a replicator's heap to (RSS 50 MB after 15 snapshots of 1 GB on s3rver).
        if (GC.GetGCMemoryInfo().HeapSizeBytes <= CompactBelow)
        {
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        }
        Volatile.Write(ref s_gcIndexAtTrim, GC.GetGCMemoryInfo().Index);
        Trim();
        _ = HostRelease?.Invoke();
    }

    /// <summary>Returns the free pages of every glibc arena to the kernel; a no-op where there is no glibc (musl, not Linux).</summary>
    public static void Trim()
    {
        if (Volatile.Read(ref s_unavailable) != 0 || !OperatingSystem.IsLinux())
        {
            return;
        }
        try
        {
            _ = MallocTrim(0);
            Interlocked.Increment(ref s_trims);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            Volatile.Write(ref s_unavailable, 1);
        }
    }

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);
}
