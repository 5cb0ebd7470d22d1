using System.Globalization;

namespace Litestream.Aot.Config;

/// <summary>
/// One node of a parsed config file (scalar, mapping or list) with its line: what the generated
/// binders read, so they do not depend on the YAML library. The <c>As*</c> readers convert a node or
/// fail with a <see cref="ConfigException"/> that names the key path and the bad value.
/// </summary>
public sealed class ConfigNode
{
    private static readonly KeyValuePair<ConfigNode, ConfigNode>[] s_noEntries = [];
    private static readonly ConfigNode[] s_noItems = [];

    private readonly Kind _kind;
    private readonly string? _value;
    private readonly IReadOnlyList<KeyValuePair<ConfigNode, ConfigNode>> _entries;
    private readonly IReadOnlyList<ConfigNode> _items;

    private ConfigNode(Kind kind, long line, string? value, IReadOnlyList<KeyValuePair<ConfigNode, ConfigNode>> entries, IReadOnlyList<ConfigNode> items)
        => (_kind, Line, _value, _entries, _items) = (kind, line, value, entries, items);

    private enum Kind
    {
        Scalar,
        Mapping,
        List,
    }

    /// <summary>The 1-based line the node starts on.</summary>
    public long Line { get; }

    /// <summary>The value of a scalar; null for a mapping or a list.</summary>
    internal string? ScalarValue => _kind == Kind.Scalar ? _value : null;

    /// <summary>A scalar (a plain value, or a key).</summary>
    public static ConfigNode Scalar(string? value, long line) => new(Kind.Scalar, line, value, s_noEntries, s_noItems);

    /// <summary>A mapping, its entries in file order.</summary>
    public static ConfigNode Mapping(IReadOnlyList<KeyValuePair<ConfigNode, ConfigNode>> entries, long line) => new(Kind.Mapping, line, null, entries, s_noItems);

    /// <summary>A list.</summary>
    public static ConfigNode List(IReadOnlyList<ConfigNode> items, long line) => new(Kind.List, line, null, s_noEntries, items);

    /// <summary>The path of key <paramref name="key"/> under <paramref name="parent"/> ("" is the root).</summary>
    public static string Child(string parent, string key) => parent.Length == 0 ? key : $"{parent}.{key}";

    /// <summary>The path of item <paramref name="index"/> of the list at <paramref name="path"/>.</summary>
    public static string Item(string path, int index) => string.Create(CultureInfo.InvariantCulture, $"{path}[{index}]");

    /// <summary>The error for a key no section knows.</summary>
    public static ConfigException UnknownKey(string parent, string key, ConfigNode keyNode)
        => new(Child(parent, key), $"unknown key (line {keyNode.Line})");

    /// <summary>The entries of a mapping.</summary>
    public IReadOnlyList<KeyValuePair<ConfigNode, ConfigNode>> AsMapping(string path)
        => _kind == Kind.Mapping ? _entries : throw new ConfigException(path, $"expected a mapping (line {Line})");

    /// <summary>True for a list (a key that takes one value or a list asks this first).</summary>
    public bool IsList => _kind == Kind.List;

    /// <summary>The items of a list.</summary>
    public IReadOnlyList<ConfigNode> AsList(string path)
        => _kind == Kind.List ? _items : throw new ConfigException(path, $"expected a list (line {Line})");

    /// <summary>A mapping key, which must be a plain string.</summary>
    public string AsKey(string parent)
        => _kind == Kind.Scalar && _value is not null ? _value : throw new ConfigException(parent, $"keys must be plain strings (line {Line})");

    /// <summary>A plain value.</summary>
    public string? AsString(string path)
        => _kind == Kind.Scalar ? _value : throw new ConfigException(path, $"expected a value, not a {(_kind == Kind.List ? "list" : "mapping")} (line {Line})");

    /// <summary>A non-negative Go duration ("1s", "5m", "24h").</summary>
    public TimeSpan AsDuration(string path)
    {
        string text = AsString(path) ?? "";
        return ConfigValues.TryParseDuration(text, out TimeSpan value) && value >= TimeSpan.Zero
            ? value
            : throw new ConfigException(path, $"invalid duration \"{text}\"");
    }

    /// <summary>A go-humanize size ("64MiB", "10MB", "4096") in bytes.</summary>
    public long AsSize(string path)
    {
        string text = AsString(path) ?? "";
        return ConfigValues.TryParseSize(text, out long value) ? value : throw new ConfigException(path, $"invalid size \"{text}\"");
    }

    /// <summary>A non-negative 32-bit integer.</summary>
    public int AsInt32(string path) => (int)AsInteger(path, int.MaxValue);

    /// <summary>A non-negative 64-bit integer.</summary>
    public long AsInt64(string path) => AsInteger(path, long.MaxValue);

    /// <summary>A YAML boolean (true/false, yes/no, on/off).</summary>
    public bool AsBoolean(string path)
    {
        string text = AsString(path) ?? "";
        return text switch
        {
            "true" or "True" or "TRUE" or "yes" or "on" => true,
            "false" or "False" or "FALSE" or "no" or "off" => false,
            _ => throw new ConfigException(path, $"invalid boolean \"{text}\""),
        };
    }

    /// <summary>A file mode as Go's YAML reads an integer: <c>0600</c> and <c>0o600</c> are octal.</summary>
    public UnixFileMode AsFileMode(string path)
    {
        string text = AsString(path) ?? "";
        string digits = text.StartsWith("0o", StringComparison.OrdinalIgnoreCase) ? text[2..] : text.Length > 1 && text[0] == '0' ? text[1..] : text;
        bool octal = digits.Length != text.Length;
        int mode = 0;
        foreach (char c in digits)
        {
            int d = c - '0';
            if (d < 0 || d > (octal ? 7 : 9))
            {
                mode = int.MaxValue;
                break;
            }
            mode = mode * (octal ? 8 : 10) + d;
        }
        return digits.Length > 0 && mode <= 0x1FF
            ? (UnixFileMode)mode
            : throw new ConfigException(path, $"invalid permissions \"{text}\": expected an octal mode like 0600");
    }

    /// <summary>A value out of <paramref name="allowed"/>; otherwise <paramref name="error"/> formatted with the value.</summary>
    public string? AsOneOf(string path, bool ignoreCase, string error, params string[] allowed)
    {
        string? text = AsString(path);
        StringComparison comparison = ignoreCase ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        foreach (string candidate in allowed)
        {
            if (string.Equals(text, candidate, comparison))
            {
                return text;
            }
        }
        throw new ConfigException(path, string.Format(CultureInfo.InvariantCulture, error, text));
    }

    private long AsInteger(string path, long max)
    {
        string text = AsString(path) ?? "";
        return long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out long value) && value >= 0 && value <= max
            ? value
            : throw new ConfigException(path, $"invalid number \"{text}\"");
    }
}
