using Litestream.Aot.Cli;

namespace Litestream.Aot.Tests.Cli;

/// <summary>glibc takes the cap on its malloc arenas the exe sets as Main starts (issue 21: idle RSS of many databases).</summary>
public class LibcTests
{
    [Fact]
    public void LimitMallocArenas_GlibcAcceptsTheCap()
    {
        Assert.True(Libc.LimitMallocArenas());
    }
}
