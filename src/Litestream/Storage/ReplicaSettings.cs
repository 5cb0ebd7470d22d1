using System.Text;

namespace Litestream.Storage;

/// <summary>
/// Where a replica is, for any backend: its type, its URL and path, and its backend keys as litestream.yml
/// spells them (<c>bucket</c>, <c>part-size</c>, <c>account-name</c>, …). The backend named by <see cref="Type"/>
/// (or by the URL's scheme) reads the keys it declares into its own settings record and ignores the rest,
/// so this type knows no backend. Built from a YAML <c>replica:</c> section by the exe, from a replica URL,
/// or directly by an embedding app.
/// </summary>
public sealed record ReplicaSettings
{
    private static readonly IReadOnlyDictionary<string, string> s_noOptions = new Dictionary<string, string>();

    /// <summary>Backend name ("file", "s3", "abs", …); inferred from <see cref="Url"/> when null, else "file".</summary>
    public string? Type { get; init; }

    /// <summary>
    /// The replica URL as written by the user, if any (<c>s3://bucket/db?region=x</c>). Its parts fill in the path
    /// and any key not set in <see cref="Options"/>.
    /// </summary>
    public string? Url { get; init; }

    /// <summary>Path inside the backend (directory for file, key prefix for object stores); wins over the URL's.</summary>
    public string? Path { get; init; }

    /// <summary>
    /// The backend's keys as litestream.yml spells them, e.g. <c>["part-size"] = "64MiB"</c>; each wins over the
    /// same key taken from <see cref="Url"/>. Values are text: sizes take go-humanize units, booleans true/false.
    /// </summary>
    public IReadOnlyDictionary<string, string> Options { get; init; } = s_noOptions;

    /// <summary>Retries of a failed request after the first attempt; null = the backend's default.</summary>
    public int? MaxRetries { get; init; }

    /// <summary>Longest TCP connect (and TLS handshake) of a network backend; null = the backend's default.</summary>
    public TimeSpan? ConnectTimeout { get; init; }

    /// <summary>Longest single request attempt of a network backend; null = the backend's default.</summary>
    public TimeSpan? RequestTimeout { get; init; }

    /// <summary>These settings with each key of <paramref name="defaults"/> added where <see cref="Options"/> has none.</summary>
    public ReplicaSettings WithDefaultOptions(IReadOnlyDictionary<string, string> defaults)
    {
        ArgumentNullException.ThrowIfNull(defaults);
        var merged = new Dictionary<string, string>(defaults, StringComparer.Ordinal);
        foreach (KeyValuePair<string, string> option in Options)
        {
            merged[option.Key] = option.Value;
        }
        return this with { Options = merged };
    }

    /// <summary>
    /// Where the replica is, for logs and debugging; never a credential (the URL is redacted, secret keys print
    /// as REDACTED). Replaces the record's generated ToString, which would print every value.
    /// </summary>
    public override string ToString()
    {
        var text = new StringBuilder("ReplicaSettings { ");
        bool any = ReplicaKeyValues.PrintMember(text, false, "Type", Type, secret: false);
        any = ReplicaKeyValues.PrintMember(text, any, "Url", Url is null ? null : ReplicaUrl.Redact(Url), secret: false);
        any = ReplicaKeyValues.PrintMember(text, any, "Path", Path, secret: false);
        foreach (KeyValuePair<string, string> option in Options.OrderBy(o => o.Key, StringComparer.Ordinal))
        {
            any = ReplicaKeyValues.PrintMember(text, any, option.Key, option.Value, Redaction.IsSecretQueryKey(option.Key));
        }
        return text.Append(any ? " }" : "}").ToString();
    }
}
