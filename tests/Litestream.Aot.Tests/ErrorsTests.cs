namespace Litestream.Aot.Tests;

/// <summary><see cref="Errors"/> picks a hint by the exception's type and error code, never by its message text.</summary>
public class ErrorsTests
{
    private const string DiskFullHint = "free disk space and try again";

    [Fact]
    public void Hint_Enospc_DirectOrWrapped_SaysFreeDiskSpace()
    {
        var enospc = new IOException("No space left on device : '/data/app.db.tmp'", 28);

        Assert.Equal(DiskFullHint, Errors.Hint(enospc));
        Assert.Equal(DiskFullHint, Errors.Hint(new IOException("restore of /data/app.db failed", enospc)));
        Assert.Equal(DiskFullHint, Errors.Hint(new AggregateException(enospc)));
    }

    [Fact]
    public void Hint_MessageThatOnlyReadsLikeDiskFull_NoHint()
    {
        Assert.Null(Errors.Hint(new IOException("No space left on device")));
        Assert.Null(Errors.Hint(new IOException("read failed", 5)));
    }
}
