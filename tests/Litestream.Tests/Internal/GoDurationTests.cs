namespace Litestream.Tests.Internal;

public class GoDurationTests
{
    // Expected values are what Go's time.Duration.String prints for the same durations.
    [Theory]
    [InlineData(0L, "0s")]
    [InlineData(1L, "100ns")]
    [InlineData(15L, "1.5µs")]
    [InlineData(5_000L, "500µs")]
    [InlineData(15_000L, "1.5ms")]
    [InlineData(5_000_000L, "500ms")]
    [InlineData(9_999_999L, "999.9999ms")]
    [InlineData(10_000_000L, "1s")]
    [InlineData(15_000_000L, "1.5s")]
    [InlineData(600_000_000L, "1m0s")]
    [InlineData(1_020_000_000L, "1m42s")]
    [InlineData(1_025_000_000L, "1m42.5s")]
    [InlineData(3_000_000_000L, "5m0s")]
    [InlineData(36_000_000_000L, "1h0m0s")]
    [InlineData(864_000_000_000L, "24h0m0s")]
    [InlineData(-5_000_000L, "-500ms")]
    [InlineData(-1_020_000_000L, "-1m42s")]
    public void Format_AsGoPrintsIt(long ticks, string expected) => Assert.Equal(expected, GoDuration.Format(TimeSpan.FromTicks(ticks)));

    [Fact]
    public void Format_Extremes_DoNotOverflow()
    {
        Assert.Equal("256204778h48m5.4775807s", GoDuration.Format(TimeSpan.MaxValue));
        Assert.Equal("-256204778h48m5.4775808s", GoDuration.Format(TimeSpan.MinValue));
    }
}
