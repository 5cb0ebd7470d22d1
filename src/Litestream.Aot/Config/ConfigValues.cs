using System.Globalization;
using System.Text;

namespace Litestream.Aot.Config;

/// <summary>A config file problem, named by its YAML path: <c>dbs[0].replica.sync-interval: invalid duration "5x"</c>.</summary>
public sealed class ConfigException(string path, string message, string? hint = null) : Exception(path.Length == 0 ? message : $"{path}: {message}")
{
    /// <summary>The YAML key path, e.g. <c>dbs[0].replica.sync-interval</c>.</summary>
    public string KeyPath { get; } = path;

    /// <summary>What to change, when more specific than "fix the config file".</summary>
    public string? Hint { get; } = hint;
}

/// <summary>Parsers for the scalar syntaxes upstream's config accepts (Go durations, go-humanize sizes, os.Expand).</summary>
public static class ConfigValues
{
    /// <summary>Go <c>time.ParseDuration</c>: "300ms", "1.5h", "2h45m", "-1s", "0".</summary>
    public static bool TryParseDuration(string text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        ReadOnlySpan<char> s = text.AsSpan().Trim();
        if (s.Length == 0)
        {
            return false;
        }
        bool negative = false;
        if (s[0] is '-' or '+')
        {
            negative = s[0] == '-';
            s = s[1..];
        }
        if (s is "0")
        {
            return true;
        }
        double totalTicks = 0;
        while (s.Length > 0)
        {
            int i = 0;
            while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '.'))
            {
                i++;
            }
            if (i == 0 || !double.TryParse(s[..i], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double number))
            {
                return false;
            }
            s = s[i..];
            int j = 0;
            while (j < s.Length && !char.IsAsciiDigit(s[j]) && s[j] != '.')
            {
                j++;
            }
            double unitTicks = s[..j] switch
            {
                "ns" => 0.01,
                "us" or "µs" or "μs" => TimeSpan.TicksPerMicrosecond,
                "ms" => TimeSpan.TicksPerMillisecond,
                "s" => TimeSpan.TicksPerSecond,
                "m" => TimeSpan.TicksPerMinute,
                "h" => TimeSpan.TicksPerHour,
                _ => -1,
            };
            if (unitTicks < 0)
            {
                return false;
            }
            totalTicks += number * unitTicks;
            s = s[j..];
        }
        if (totalTicks > TimeSpan.MaxValue.Ticks)
        {
            return false;
        }
        value = TimeSpan.FromTicks((long)(negative ? -totalTicks : totalTicks));
        return true;
    }

    /// <summary>go-humanize <c>ParseBytes</c>: "5MiB", "1 MB", "64mb", "4096" (the engine's parser, which backend keys use too).</summary>
    public static bool TryParseSize(string text, out long bytes) => ByteSize.TryParse(text, out bytes);

    /// <summary>
    /// Go <c>os.Expand</c> over the whole config text: <c>$VAR</c>, <c>${VAR}</c>; unset variables become empty.
    /// Fails once the result passes <paramref name="maxLength"/> characters, so a file of references to a large
    /// variable cannot grow without bound.
    /// </summary>
    public static string ExpandEnvironment(string text, Func<string, string?> lookup, int maxLength = int.MaxValue)
    {
        var sb = new StringBuilder(Math.Min(text.Length, maxLength));
        // Once a "${" has no closing brace, none after it has one: stop looking (the scan was quadratic).
        bool unclosed = false;
        for (int i = 0; i < text.Length; i++)
        {
            if (sb.Length > maxLength)
            {
                throw TooLarge();
            }
            char c = text[i];
            if (c != '$' || i + 1 >= text.Length)
            {
                sb.Append(c);
                continue;
            }
            char n = text[i + 1];
            if (n == '{')
            {
                int close = unclosed ? -1 : text.IndexOf('}', i + 2);
                if (close < 0)
                {
                    unclosed = true;
                    sb.Append(c);
                    continue;
                }
                sb.Append(Lookup(text[(i + 2)..close], lookup));
                i = close;
            }
            else if (char.IsAsciiLetterOrDigit(n) || n == '_')
            {
                int end = i + 1;
                while (end < text.Length && (char.IsAsciiLetterOrDigit(text[end]) || text[end] == '_'))
                {
                    end++;
                }
                sb.Append(Lookup(text[(i + 1)..end], lookup));
                i = end - 1;
            }
            else
            {
                sb.Append(c);
            }
        }
        return sb.Length > maxLength ? throw TooLarge() : sb.ToString();

        ConfigException TooLarge() => new("", $"the config is larger than {maxLength / 1024} KiB after environment expansion");
    }

    private static string Lookup(string name, Func<string, string?> lookup)
        => name == "PID" ? Environment.ProcessId.ToString(CultureInfo.InvariantCulture) : lookup(name) ?? "";
}
