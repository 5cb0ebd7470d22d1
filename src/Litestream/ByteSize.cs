using System.Globalization;

namespace Litestream;

/// <summary>go-humanize <c>ParseBytes</c>, the syntax of upstream's size settings (litestream.yml, replica URL keys): "5MiB", "1 MB", "64mb", "4096".</summary>
public static class ByteSize
{
    /// <summary>Reads <paramref name="text"/> into <paramref name="bytes"/>; false when it is not a size.</summary>
    public static bool TryParse(string text, out long bytes)
    {
        bytes = 0;
        ReadOnlySpan<char> s = text.AsSpan().Trim();
        int i = 0;
        while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '.'))
        {
            i++;
        }
        if (i == 0 || !double.TryParse(s[..i], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double number))
        {
            return false;
        }
        string unit = s[i..].Trim().ToString().ToLowerInvariant();
        double multiplier = unit switch
        {
            "" or "b" => 1,
            "k" or "kb" => 1e3,
            "m" or "mb" => 1e6,
            "g" or "gb" => 1e9,
            "t" or "tb" => 1e12,
            "ki" or "kib" => 1024,
            "mi" or "mib" => 1024.0 * 1024,
            "gi" or "gib" => 1024.0 * 1024 * 1024,
            "ti" or "tib" => 1024.0 * 1024 * 1024 * 1024,
            _ => -1,
        };
        if (multiplier < 0 || number * multiplier > long.MaxValue)
        {
            return false;
        }
        bytes = (long)(number * multiplier);
        return true;
    }
}
