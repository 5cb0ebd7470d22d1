using System.Globalization;

namespace Litestream.Ltx;

/// <summary>
/// Timestamps in text form as ltx writes them (<c>FormatTimestamp</c>/<c>ParseTimestamp</c>): RFC 3339
/// in UTC with exactly three fractional digits, <c>2000-10-21T06:40:50.123Z</c>. Precision is milliseconds.
/// </summary>
public static class LtxTimestamp
{
    private const string OutputFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z'";

    // RFC 3339 with up to 7 fractional digits (.NET's limit; extra digits are cut before parsing).
    // An offset is required, as in Go's RFC 3339 layout: "Z" or ±hh:mm.
    private static readonly string[] s_inputFormats =
        ["yyyy-MM-dd'T'HH:mm:ss'Z'", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", "yyyy-MM-dd'T'HH:mm:sszzz", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFzzz"];

    /// <summary>Formats in UTC with milliseconds; sub-millisecond digits are dropped, not rounded.</summary>
    public static string Format(DateTimeOffset time)
        => Truncate(time.ToUniversalTime()).ToString(OutputFormat, CultureInfo.InvariantCulture);

    /// <summary>
    /// Parses RFC 3339 (offset "Z" or ±hh:mm required; any number of fractional digits, as Go) and
    /// truncates to milliseconds; false for anything else.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<char> text, out DateTimeOffset time)
    {
        time = default;
        // .NET's zzz also takes "+0200"; RFC 3339 wants the colon.
        if (text.Length < 6 || (text[^1] != 'Z' && text[^3] != ':'))
        {
            return false;
        }
        int dot = text.IndexOf('.');
        if (dot >= 0)
        {
            // Keep at most 7 fractional digits: .NET cannot parse more, and only milliseconds survive.
            int digits = 0;
            while (dot + 1 + digits < text.Length && char.IsAsciiDigit(text[dot + 1 + digits]))
            {
                digits++;
            }
            if (digits > 7)
            {
                text = string.Concat(text[..(dot + 8)], text[(dot + 1 + digits)..]);
            }
        }
        if (!DateTimeOffset.TryParseExact(text, s_inputFormats, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out DateTimeOffset parsed))
        {
            return false;
        }
        time = Truncate(parsed.ToUniversalTime());
        return true;
    }

    private static DateTimeOffset Truncate(DateTimeOffset time)
        => new(time.Ticks - (time.Ticks % TimeSpan.TicksPerMillisecond), time.Offset);
}
