using System.Runtime;

namespace Litestream.Internal;

/// <summary>
/// Gives the managed heap back after a level-9 snapshot. A snapshot of a large database leaves megabytes of
/// short-lived garbage that gen0 promotes and the GC lets gen2 keep, so a long-running daemon's RSS climbed with
/// every snapshot (bench/RESULTS.md "Memory flat with database size"). One blocking full collection a snapshot
/// costs milliseconds against a snapshot's seconds.
/// </summary>
internal static class HeapTrim
{
    // Bench only (bench/RESULTS.md): none | forced | aggressive; unset means aggressive.
    private static readonly string? Mode = Environment.GetEnvironmentVariable("LITESTREAM_BENCH_HEAP_TRIM");

    public static void AfterSnapshot()
    {
        switch (Mode)
        {
            case "none":
                return;
            case "forced":
                GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
                GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
                return;
            default:
                // Aggressive also decommits the freed regions, which is what lowers RSS.
                GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
                return;
        }
    }
}
