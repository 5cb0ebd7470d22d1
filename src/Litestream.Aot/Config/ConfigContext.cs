namespace Litestream.Aot.Config;

/// <summary>What binding needs besides the YAML: where relative paths resolve from.</summary>
public sealed class ConfigContext(string baseDirectory)
{
    private static readonly string[] s_sqlitePrefixes = ["sqlite3://", "sqlite://"];

    /// <summary>The directory of the config file (the working directory for a piped config).</summary>
    public string BaseDirectory { get; } = baseDirectory;

    /// <summary>A local database path as upstream reads it: <c>sqlite://</c> prefix dropped, <c>~/</c> expanded, made absolute.</summary>
    public string ResolveLocalPath(string? value, string path)
    {
        if (string.IsNullOrEmpty(value))
        {
            throw new ConfigException(path, "must not be empty");
        }
        foreach (string prefix in s_sqlitePrefixes)
        {
            if (value.StartsWith(prefix, StringComparison.Ordinal))
            {
                value = value[prefix.Length..];
            }
        }
        return ResolvePath(value);
    }

    /// <summary>
    /// A local path from the config, absolute: <c>~/</c> expanded, a relative one taken from <see cref="BaseDirectory"/>
    /// (database paths, meta paths, the socket, a file replica's directory).
    /// </summary>
    public string ResolvePath(string value)
    {
        if (value.StartsWith("~/", StringComparison.Ordinal))
        {
            value = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), value[2..]);
        }
        return Path.GetFullPath(value, BaseDirectory);
    }
}
