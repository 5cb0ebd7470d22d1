using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Litestream;

/// <summary>
/// Go's durations, the one owner of them in the engine. <see cref="TryParse"/> reads <c>time.ParseDuration</c> syntax
/// for the engine's environment knobs and the VFS: <c>500ms</c>, <c>2s</c>, <c>1h30m</c> (the magnitude is returned;
/// a sign is accepted and ignored, as the VFS reads both <c>5m</c> and <c>-5m</c> as "5 minutes ago").
/// <see cref="Format"/> prints as <c>time.Duration.String</c> does, as upstream prints them: <c>500ms</c>, <c>1.5s</c>,
/// <c>1m42s</c>, <c>1h0m0s</c>; every duration in a log line or message goes through it, so a backoff, a timeout and a
/// config value read the way they are written in litestream.yml.
/// </summary>
public static partial class GoDuration
{
    /// <summary>Reads <paramref name="value"/> (Go syntax) into <paramref name="duration"/>; false when it is not a duration.</summary>
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

    // In TimeSpan ticks (100 ns): nanoseconds of TimeSpan.MaxValue would overflow a ulong.
    private const ulong TicksPerMicrosecond = 10, TicksPerMillisecond = 10_000, TicksPerSecond = 10_000_000, TicksPerMinute = 60 * TicksPerSecond;

    /// <summary><paramref name="value"/> in Go's notation (the TimeSpan's 100 ns ticks, exactly).</summary>
    public static string Format(TimeSpan value)
    {
        // The magnitude; TimeSpan.MinValue's ticks have no positive twin in a long, but do in a ulong.
        ulong ticks = value.Ticks < 0 ? (ulong)-(value.Ticks + 1) + 1 : (ulong)value.Ticks;
        string sign = value.Ticks < 0 ? "-" : "";
        if (ticks == 0)
        {
            return "0s";
        }
        if (ticks < TicksPerSecond)
        {
            // Below a second Go picks the largest unit that keeps an integer part: 1.5ms, 250µs, 300ns.
            ulong ns = ticks * 100;
            return ticks < TicksPerMicrosecond ? $"{sign}{ns}ns"
                : ticks < TicksPerMillisecond ? $"{sign}{Fraction(ns, 1_000)}µs"
                : $"{sign}{Fraction(ns, 1_000_000)}ms";
        }
        var text = new StringBuilder(sign);
        ulong minutes = ticks / TicksPerMinute;
        if (minutes >= 60)
        {
            text.Append(CultureInfo.InvariantCulture, $"{minutes / 60}h");
        }
        if (minutes > 0)
        {
            text.Append(CultureInfo.InvariantCulture, $"{minutes % 60}m");
        }
        return text.Append(Fraction(ticks % TicksPerMinute, TicksPerSecond)).Append('s').ToString();
    }

    /// <summary><paramref name="value"/> / <paramref name="unit"/> with the decimals it needs and no trailing zeros.</summary>
    private static string Fraction(ulong value, ulong unit)
    {
        ulong whole = value / unit, rest = value % unit;
        if (rest == 0)
        {
            return whole.ToString(CultureInfo.InvariantCulture);
        }
        int digits = unit.ToString(CultureInfo.InvariantCulture).Length - 1; // unit is a power of ten
        return $"{whole.ToString(CultureInfo.InvariantCulture)}.{rest.ToString(CultureInfo.InvariantCulture).PadLeft(digits, '0').TrimEnd('0')}";
    }
}
