using System.Globalization;
using Litestream.Ltx;

namespace Litestream.Storage;

/// <summary>
/// The LTX creation time as upstream stores it in object metadata (S3 <c>litestream-timestamp</c>, Azure
/// <c>litestreamtimestamp</c>): Go's RFC3339Nano in UTC. Backends write it with every file so a listing can
/// carry the header time without opening files.
/// </summary>
internal static class ReplicaTimestamp
{
    /// <summary>
    /// Formats a time as Go's RFC3339Nano in UTC, as upstream stores <c>litestream-timestamp</c>: no fraction
    /// when it is zero, trailing zeros trimmed otherwise ("2023-11-14T22:13:21.23Z").
    /// </summary>
    public static string Format(DateTimeOffset time)
    {
        DateTime utc = time.UtcDateTime;
        string text = utc.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture);
        long ticks = utc.Ticks % TimeSpan.TicksPerSecond;
        if (ticks != 0)
        {
            // 100 ns ticks: 7 digits, then Go's nanosecond precision adds a zero that trimming removes anyway.
            text += "." + ticks.ToString("D7", CultureInfo.InvariantCulture).TrimEnd('0');
        }
        return text + "Z";
    }

    /// <summary>Parses an RFC 3339 timestamp (any fraction length, Z or an offset).</summary>
    public static bool TryParse(string? text, out DateTimeOffset time)
    {
        time = default;
        if (string.IsNullOrEmpty(text))
        {
            return false;
        }
        // Go writes up to 9 fraction digits; .NET parses at most 7, so extra digits are cut.
        int dot = text.IndexOf('.', StringComparison.Ordinal);
        if (dot >= 0)
        {
            int end = dot + 1;
            while (end < text.Length && char.IsAsciiDigit(text[end]))
            {
                end++;
            }
            if (end - dot - 1 > 7)
            {
                text = text[..(dot + 8)] + text[end..];
            }
        }
        return DateTimeOffset.TryParseExact(text, ["yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK"],
            CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal, out time);
    }

    /// <summary>The LTX header timestamp at the start of <paramref name="data"/> (ms since the epoch), or now when the data has no LTX header.</summary>
    public static DateTimeOffset FromHeader(ReadOnlySpan<byte> data)
        => LtxHeader.TryRead(data, out LtxHeader header)
            ? header.CreatedAt
            : DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
}
