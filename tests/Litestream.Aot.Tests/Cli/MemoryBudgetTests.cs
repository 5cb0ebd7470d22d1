namespace Litestream.Aot.Tests.Cli;

/// <summary>
/// LITESTREAM_MEMORY_LIMIT reaches the runtime: `version -verbose` reads the heap limit back from the GC
/// itself; a bad value is a usage error. The shipped GC flavour is workstation, non-concurrent.
/// </summary>
public class MemoryBudgetTests
{
    [RequiresFact(Need.Exe)]
    public void Version_Verbose_ShipsWorkstationNonConcurrentGc()
    {
        ProcessResult r = Exe.Run("version", "-verbose");
        Assert.Equal(0, r.ExitCode);
        Assert.Matches(@"(?m)^gc: workstation, non-concurrent, heap limit \d+ bytes$", r.Stdout);
    }

    [RequiresTheory(Need.Exe)]
    [InlineData("16MiB", 16L * 1024 * 1024)]
    [InlineData("64MB", 64_000_000L)]
    public void MemoryLimit_AppliedToTheGcHeap(string value, long bytes)
    {
        ProcessResult r = Exe.Run(new Dictionary<string, string> { ["LITESTREAM_MEMORY_LIMIT"] = value }, "version", "-verbose");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains($"\ngc: workstation, non-concurrent, heap limit {bytes} bytes\n", r.Stdout);
    }

    [RequiresTheory(Need.Exe)]
    [InlineData("lots")]
    [InlineData("1MB")]
    public void MemoryLimit_Invalid_UsageError(string value)
    {
        ProcessResult r = Exe.Run(new Dictionary<string, string> { ["LITESTREAM_MEMORY_LIMIT"] = value }, "version");
        Assert.Equal(2, r.ExitCode);
        Assert.Equal($"error: invalid LITESTREAM_MEMORY_LIMIT \"{value}\"\nhint: give a size of at least 4MiB, e.g. 16MiB or 64MB\n", r.Stderr);
    }
}
