using System.Globalization;

namespace Litestream.Aot.Cli;

/// <summary>
/// <c>LITESTREAM_DEBUG_GC=SECONDS</c>, undocumented: every SECONDS, one line on stderr with the managed heap's figures
/// (after the last GC: heap size, committed, fragmentation; total allocated; collections per generation) and the
/// thread-pool's threads. For finding where an idle process's memory goes (issue 21) without a debugger.
/// </summary>
internal static class GcReport
{
    public const string Variable = "LITESTREAM_DEBUG_GC";

    private static Timer? s_timer;

    public static void Start(string? text)
    {
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int seconds) || seconds <= 0)
        {
            return;
        }
        s_timer = new Timer(_ => Print(), null, TimeSpan.FromSeconds(seconds), TimeSpan.FromSeconds(seconds));
    }

    private static void Print()
    {
        GCMemoryInfo info = GC.GetGCMemoryInfo();
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"gc: heap {info.HeapSizeBytes / 1024} KiB, committed {info.TotalCommittedBytes / 1024} KiB, fragmented {info.FragmentedBytes / 1024} KiB, " +
            $"allocated {GC.GetTotalAllocatedBytes() / 1024} KiB, collections {GC.CollectionCount(0)}/{GC.CollectionCount(1)}/{GC.CollectionCount(2)}, " +
            $"thread-pool threads {ThreadPool.ThreadCount}"));
    }
}
