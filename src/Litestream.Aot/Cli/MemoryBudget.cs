using System.Runtime;
using Litestream.Aot.Config;

namespace Litestream.Aot.Cli;

/// <summary>
/// <c>LITESTREAM_MEMORY_LIMIT=SIZE</c> (e.g. <c>16MiB</c>): a hard limit on the managed heap for small devices,
/// applied at startup through the runtime's own knob (<c>GCHeapHardLimit</c> + <see cref="GC.RefreshMemoryLimit"/>),
/// the same as <c>DOTNET_GCHeapHardLimit</c> but in the units the config uses. The GC then collects harder
/// instead of growing past it; SQLite's page cache and the binary's own pages are outside it (bench/RESULTS.md
/// measures what it buys).
/// </summary>
internal static class MemoryBudget
{
    public const string Variable = "LITESTREAM_MEMORY_LIMIT";

    /// <summary>Below this the runtime cannot start a replicator's worth of work.</summary>
    private const long Minimum = 4 * 1024 * 1024;

    public static void Apply(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return;
        }
        if (!ConfigValues.TryParseSize(text, out long bytes) || bytes < Minimum)
        {
            throw new UsageException($"invalid {Variable} \"{text}\"", "give a size of at least 4MiB, e.g. 16MiB or 64MB");
        }
        AppContext.SetData("GCHeapHardLimit", (ulong)bytes);
        GC.RefreshMemoryLimit();
    }

    /// <summary>For <c>version -verbose</c>: the GC flavour and the heap limit in force.</summary>
    public static string Describe()
    {
        string flavour = GCSettings.IsServerGC ? "server" : "workstation";
        string concurrent = GCSettings.LatencyMode == GCLatencyMode.Batch ? "non-concurrent" : "concurrent";
        long limit = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        return $"{flavour}, {concurrent}, heap limit {limit} bytes";
    }
}
