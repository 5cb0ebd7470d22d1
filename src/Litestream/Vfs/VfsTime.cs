using System.Globalization;
using System.Text.RegularExpressions;

namespace Litestream.Vfs;

/// <summary>
/// Parses the value of <c>PRAGMA litestream_time = ...</c> / <c>litestream_set_time(...)</c>: an absolute
/// time (RFC 3339 / ISO 8601, SQLite's <c>YYYY-MM-DD HH:MM:SS</c>, all UTC unless an offset is given, or
/// Unix seconds), a Go duration relative to now (<c>-5m</c>, <c>1h30m</c>: both signs mean the past), a
/// SQLite modifier (<c>-5 minutes</c>) or <c>5 minutes ago</c>. <c>now</c>, <c>latest</c> and the empty
/// string mean "follow the latest TXID" (null).
/// </summary>
internal static partial class VfsTime
{
    public static bool TryParse(string? text, DateTimeOffset now, out DateTimeOffset? time)
    {
        time = null;
        string value = (text ?? "").Trim().Trim('\'', '"').Trim();
        if (value.Length == 0 || value.Equals("now", StringComparison.OrdinalIgnoreCase) || value.Equals("latest", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }
        if (DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out DateTimeOffset absolute))
        {
            time = absolute;
            return true;
        }
        if (long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long unix))
        {
            time = DateTimeOffset.FromUnixTimeSeconds(unix);
            return true;
        }
        if (GoDuration.TryParse(value, out TimeSpan ago) || TryParseModifier(value, out ago))
        {
            time = now - ago;
            return true;
        }
        return false;
    }

    /// <summary>A poll interval: whole milliseconds, or a Go duration (<c>500ms</c>, <c>2s</c>).</summary>
    public static bool TryParseInterval(string text, out TimeSpan interval)
    {
        if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long ms))
        {
            interval = TimeSpan.FromMilliseconds(ms);
            return true;
        }
        return GoDuration.TryParse(text.Trim(), out interval);
    }

    private static bool TryParseModifier(string value, out TimeSpan ago)
    {
        ago = default;
        Match m = Modifier().Match(value);
        if (!m.Success)
        {
            return false;
        }
        double n = double.Parse(m.Groups["n"].Value, CultureInfo.InvariantCulture);
        ago = m.Groups["unit"].Value.ToLowerInvariant().TrimEnd('s') switch
        {
            "second" or "sec" => TimeSpan.FromSeconds(n),
            "minute" or "min" => TimeSpan.FromMinutes(n),
            "hour" => TimeSpan.FromHours(n),
            "day" => TimeSpan.FromDays(n),
            _ => TimeSpan.FromDays(7 * n),
        };
        return true;
    }

    [GeneratedRegex(@"^[-+]?\s*(?<n>[0-9]+(?:\.[0-9]+)?)\s*(?<unit>seconds?|secs?|minutes?|mins?|hours?|days?|weeks?)(?:\s+ago)?$", RegexOptions.IgnoreCase)]
    private static partial Regex Modifier();
}
