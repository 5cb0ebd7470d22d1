using Litestream.Aot.Cli;

namespace Litestream.Aot.Tests.Cli;

/// <summary>The start-up page release (issue 22): file pages leave the process's RSS, the code keeps running.</summary>
public class StartupPagesTests
{
    [Fact]
    public void Release_DropsFilePagesFromRss_AndCodeKeepsRunning()
    {
        long before = FileRssKiB();
        long released = StartupPages.Release();
        long after = FileRssKiB();
        Assert.True(released > 0, "no mapping released");
        // The test host's runtime and JIT-ed assemblies are tens of MB of file pages; other threads fault a few back.
        Assert.True(after < before, $"file RSS {before} KiB before, {after} KiB after");
        // Code and read-only data come back from the page cache unchanged.
        Assert.Equal("3.5", (7 / 2.0).ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(6, string.Join(',', Enumerable.Range(1, 3)).Split(',').Sum(int.Parse));
    }

    /// <summary>Resident file-backed KiB: smaps_rollup's Rss less its Anonymous.</summary>
    private static long FileRssKiB()
    {
        long Field(string name) => long.Parse(File.ReadLines("/proc/self/smaps_rollup").First(l => l.StartsWith(name + ":", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);
        return Field("Rss") - Field("Anonymous");
    }
}
