using System.Diagnostics;

namespace Litestream.Testing;

/// <summary>
/// Waits on a condition instead of sleeping a fixed time: the machine running the tests may be busy (other builds,
/// load average 8+ on 2 cores), so a wait ends as soon as what it waits for is true and fails only after a
/// generous ceiling, naming what it waited for and what the watched process printed.
/// </summary>
public static class Wait
{
    /// <summary>The ceiling unless told otherwise.</summary>
    public static readonly TimeSpan DefaultCeiling = TimeSpan.FromMinutes(2);

    /// <summary>Polls <paramref name="condition"/> until it holds; fails early when <paramref name="watched"/> exits first.</summary>
    public static void Until(Func<bool> condition, string what, BackgroundProcess? watched = null, TimeSpan? ceiling = null)
        => For(() => condition() ? "" : null, what, watched, ceiling);

    /// <summary>Polls <paramref name="probe"/> until it returns a value, and returns it; fails early when <paramref name="watched"/> exits first.</summary>
    public static T For<T>(Func<T?> probe, string what, BackgroundProcess? watched = null, TimeSpan? ceiling = null) where T : class
    {
        TimeSpan limit = ceiling ?? DefaultCeiling;
        var clock = Stopwatch.StartNew();
        for (int polls = 0; ; polls++)
        {
            if (probe() is { } value)
            {
                return value;
            }
            if (watched is { HasExited: true })
            {
                Assert.Fail($"{watched.Name} exited while waiting for {what}:\n{watched.Output}");
            }
            if (clock.Elapsed > limit)
            {
                Assert.Fail($"timed out after {limit.TotalSeconds:0} s waiting for {what}" + (watched is null ? "" : $"; {watched.Name} printed:\n{watched.Output}"));
            }
            Thread.Sleep(Interval(polls));
        }
    }

    /// <summary>Awaits <paramref name="condition"/> (for async tests that must not block a thread).</summary>
    public static async Task UntilAsync(Func<bool> condition, string what, TimeSpan? ceiling = null)
    {
        TimeSpan limit = ceiling ?? DefaultCeiling;
        Assert.True(await WithinAsync(condition, limit), $"timed out after {limit.TotalSeconds:0} s waiting for {what}");
    }

    /// <summary>
    /// Awaits <paramref name="condition"/> and says whether it held within the ceiling, for a test that must first
    /// stop what it runs (a store, a server) and then assert.
    /// </summary>
    public static async Task<bool> WithinAsync(Func<bool> condition, TimeSpan? ceiling = null)
    {
        TimeSpan limit = ceiling ?? DefaultCeiling;
        var clock = Stopwatch.StartNew();
        for (int polls = 0; !condition(); polls++)
        {
            if (clock.Elapsed > limit)
            {
                return condition();
            }
            await Task.Delay(Interval(polls));
        }
        return true;
    }

    // Fine-grained for the first second (kills aimed at a moment, quick conditions), then gentle on a busy machine.
    private static TimeSpan Interval(int polls) => TimeSpan.FromMilliseconds(polls < 50 ? 20 : 100);
}
