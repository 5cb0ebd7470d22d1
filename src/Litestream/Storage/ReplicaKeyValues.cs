using System.Globalization;
using System.Text;

namespace Litestream.Storage;

/// <summary>
/// Reads the text of backend keys (<see cref="ReplicaSettings.Options"/>) as their kinds, for the generated
/// <c>Bind</c> of each backend's settings record; an empty value counts as not set. Errors name the key and
/// the value, except a secret's value.
/// </summary>
internal static class ReplicaKeyValues
{
    public static string? ReadString(IReadOnlyDictionary<string, string> options, string key)
        => options.TryGetValue(key, out string? value) && value.Length > 0 ? value : null;

    public static bool? ReadBoolean(IReadOnlyDictionary<string, string> options, string key)
        => ReadString(options, key) is not { } text ? null
            : TryParseBoolean(text, out bool value) ? value
            : throw Invalid(key, "boolean", text);

    public static int? ReadInt32(IReadOnlyDictionary<string, string> options, string key)
        => ReadString(options, key) is not { } text ? null
            : int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int value) ? value
            : throw Invalid(key, "integer", text);

    public static long? ReadInt64(IReadOnlyDictionary<string, string> options, string key)
        => ReadString(options, key) is not { } text ? null
            : long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long value) ? value
            : throw Invalid(key, "integer", text);

    public static long? ReadSize(IReadOnlyDictionary<string, string> options, string key)
        => ReadString(options, key) is not { } text ? null
            : ByteSize.TryParse(text, out long value) ? value
            : throw Invalid(key, "size", text);

    public static TimeSpan? ReadDuration(IReadOnlyDictionary<string, string> options, string key)
        => ReadString(options, key) is not { } text ? null
            : !text.StartsWith('-') && GoDuration.TryParse(text.Trim(), out TimeSpan value) ? value
            : throw Invalid(key, "duration", text);

    /// <summary>A list key's items: one a line (the exe joins a YAML sequence so), empty lines dropped.</summary>
    public static IReadOnlyList<string>? ReadStringList(IReadOnlyDictionary<string, string> options, string key)
        => ReadString(options, key) is not { } text ? null
            : text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) is { Length: > 0 } items ? items
            : null;

    /// <summary>Upstream's boolean spellings in YAML and in URL queries.</summary>
    public static bool TryParseBoolean(string text, out bool value)
    {
        switch (text.ToLowerInvariant())
        {
            case "true" or "1" or "t" or "yes" or "on":
                value = true;
                return true;
            case "false" or "0" or "f" or "no" or "off":
                value = false;
                return true;
            default:
                value = false;
                return false;
        }
    }

    /// <summary>
    /// Appends <c>name = value</c> to a record's ToString when the value is set, a secret as REDACTED; returns
    /// whether anything has been printed so far.
    /// </summary>
    public static bool PrintMember(StringBuilder builder, bool any, string name, object? value, bool secret)
    {
        if (value is null)
        {
            return any;
        }
        if (any)
        {
            builder.Append(", ");
        }
        builder.Append(name).Append(" = ");
        if (secret)
        {
            builder.Append(Redaction.Mask);
        }
        else if (value is IReadOnlyList<string> list)
        {
            builder.Append('[').AppendJoin(", ", list).Append(']');
        }
        else if (value is TimeSpan duration)
        {
            builder.Append(GoDuration.Format(duration));
        }
        else
        {
            builder.Append(Convert.ToString(value, CultureInfo.InvariantCulture));
        }
        return true;
    }

    private static ArgumentException Invalid(string key, string kind, string text)
        => new(Redaction.IsSecretQueryKey(key) ? $"{key}: invalid {kind}" : $"{key}: invalid {kind} \"{text}\"");
}
