using System.Globalization;
using System.Text.RegularExpressions;

namespace Litestream.Internal;

/// <summary>
/// Go <c>time.ParseDuration</c> syntax for the engine's environment knobs and the VFS: <c>500ms</c>, <c>2s</c>,
/// <c>1h30m</c>. The magnitude is returned; a sign is accepted and ignored (the VFS reads both <c>5m</c> and
/// <c>-5m</c> as "5 minutes ago").
/// </summary>
internal static partial class GoDuration
{
    public static bool TryParse(string value, out TimeSpan duration)
    {
        duration = default;
        Match m = Duration().Match(value);
        if (!m.Success)
        {
            return false;
        }
        double ticks = 0;
        foreach (Capture c in m.Groups["part"].Captures)
        {
            Match part = Part().Match(c.Value);
            double n = double.Parse(part.Groups[1].Value, CultureInfo.InvariantCulture);
            ticks += n * part.Groups[2].Value switch
            {
                "ns" => TimeSpan.TicksPerMillisecond / 1e6,
                "us" or "µs" => TimeSpan.TicksPerMillisecond / 1e3,
                "ms" => TimeSpan.TicksPerMillisecond,
                "s" => TimeSpan.TicksPerSecond,
                "m" => TimeSpan.TicksPerMinute,
                _ => TimeSpan.TicksPerHour,
            };
        }
        duration = TimeSpan.FromTicks((long)ticks);
        return true;
    }

    [GeneratedRegex(@"^[-+]?(?<part>[0-9]+(?:\.[0-9]+)?(?:ns|us|µs|ms|s|m|h))+$")]
    private static partial Regex Duration();

    [GeneratedRegex(@"^([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)$")]
    private static partial Regex Part();
}
