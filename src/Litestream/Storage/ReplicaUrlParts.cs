namespace Litestream.Storage;

/// <summary>
/// A replica URL split the way upstream's <c>ParseReplicaURLWithQuery</c> splits it, for a backend's
/// <c>ParseUrl</c>: <c>scheme://[user[:password]@]host/path?query</c>. The user info is cut at the last '@' of
/// the authority, so a password may hold '@'. The backend decides what host and path mean.
/// </summary>
/// <param name="Text">The URL as written (may hold a password: print <see cref="Redacted"/>).</param>
/// <param name="Scheme">The scheme, lowercase.</param>
/// <param name="User">The unescaped user name, or null.</param>
/// <param name="Password">The unescaped password, or null.</param>
/// <param name="Host">The authority without the user info (may include a port).</param>
/// <param name="Path">Everything after the first '/' that follows the authority, without the query.</param>
/// <param name="Query">The unescaped query parameters; names compare case-insensitively.</param>
internal sealed record ReplicaUrlParts(string Text, string Scheme, string? User, string? Password, string Host, string Path, IReadOnlyDictionary<string, string> Query)
{
    /// <summary>The URL for messages: no password, no secret query value.</summary>
    public string Redacted => ReplicaUrl.Redact(Text);

    /// <summary>The first non-empty query value among <paramref name="names"/> (upstream accepts camelCase and kebab-case spellings).</summary>
    public string? Get(params ReadOnlySpan<string> names)
    {
        foreach (string name in names)
        {
            if (Query.TryGetValue(name, out string? value) && value.Length > 0)
            {
                return value;
            }
        }
        return null;
    }

    /// <summary>Copies the first query value among <paramref name="names"/> into <paramref name="options"/> as <paramref name="key"/>.</summary>
    public void CopyQuery(Dictionary<string, string> options, string key, params ReadOnlySpan<string> names)
    {
        if (Get(names) is { } value)
        {
            options[key] = value;
        }
    }

    /// <summary>An error naming the URL (redacted) and what is wrong with it.</summary>
    public ArgumentException Invalid(string problem) => new($"invalid {Scheme} replica url \"{Redacted}\": {problem}");
}
