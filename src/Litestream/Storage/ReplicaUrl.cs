namespace Litestream.Storage;

/// <summary>
/// Parses replica URLs into <see cref="ReplicaSettings"/> the way upstream does (REPLICA-LAYOUT.md §9): a bare
/// path is a file replica; otherwise the URL is split (<see cref="ReplicaUrlParts"/>) and the backend registered
/// for its scheme says which path and keys it names (<c>s3://bucket/path?endpoint=…</c> → bucket, endpoint, …).
/// Errors never echo a credential: each is registered with <see cref="Redaction"/>.
/// </summary>
public static class ReplicaUrl
{
    /// <summary>Schemes upstream v0.5 has: a URL of one this build lacks still parses (so configs load and list), and fails when a client is made.</summary>
    private static readonly HashSet<string> s_upstreamSchemes = new(StringComparer.Ordinal) { "file", "s3", "gs", "abs", "sftp", "webdav", "webdavs", "nats", "oss" };

    /// <summary>True when <paramref name="text"/> has a URL scheme (<c>name://</c>).</summary>
    public static bool IsUrl(string text) => text.Contains("://", StringComparison.Ordinal);

    /// <summary>Parses a replica URL or bare path; the settings' <see cref="ReplicaSettings.Url"/> is the URL with its credentials masked.</summary>
    /// <exception cref="ArgumentException">The URL is malformed, or its scheme is unknown.</exception>
    /// <exception cref="BackendNotInBuildException">The scheme names a backend this build was published without.</exception>
    public static ReplicaSettings Parse(string text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            throw new ArgumentException("replica url required");
        }
        if (!IsUrl(text))
        {
            return new ReplicaSettings { Type = "file", Path = System.IO.Path.GetFullPath(text), Url = text };
        }
        ReplicaUrlParts url = Split(text);
        if (!ReplicaClientRegistry.TryParseUrl(url.Scheme, url, out ReplicaSettings? settings))
        {
            if (ReplicaClientRegistry.Omitted.Contains(url.Scheme))
            {
                throw new BackendNotInBuildException(url.Scheme, ReplicaClientRegistry.Names);
            }
            settings = s_upstreamSchemes.Contains(url.Scheme)
                ? new ReplicaSettings { Path = url.Path.Trim('/') }
                : throw new ArgumentException($"unknown replica url scheme \"{url.Scheme}\" in \"{url.Redacted}\"");
        }
        return settings! with { Type = settings.Type ?? url.Scheme, Url = url.Redacted };
    }

    /// <summary>
    /// Splits <c>scheme://[user[:password]@]host/path?query</c>; the user info ends where <see cref="UserInfoEnd"/>
    /// says. The password and secret query values are registered with <see cref="Redaction"/>.
    /// </summary>
    internal static ReplicaUrlParts Split(string text)
    {
        int schemeEnd = text.IndexOf("://", StringComparison.Ordinal);
        string scheme = text[..schemeEnd].ToLowerInvariant();
        string rest = text[(schemeEnd + 3)..];
        string? user = null, password = null;
        int at = UserInfoEnd(rest);
        if (at >= 0)
        {
            string userInfo = rest[..at];
            rest = rest[(at + 1)..];
            int colon = userInfo.IndexOf(':');
            user = Uri.UnescapeDataString(colon >= 0 ? userInfo[..colon] : userInfo);
            if (colon >= 0)
            {
                password = Uri.UnescapeDataString(userInfo[(colon + 1)..]);
                // The user is not registered: a short one ("root") would be masked in every path printed. Where
                // the URL is printed, the whole user info is masked.
                Redaction.Register(userInfo[(colon + 1)..]);
                Redaction.Register(password);
            }
        }
        string query = "";
        int q = rest.IndexOf('?');
        if (q >= 0)
        {
            query = rest[(q + 1)..];
            rest = rest[..q];
        }
        int slash = rest.IndexOf('/');
        string host = slash >= 0 ? rest[..slash] : rest;
        string path = slash >= 0 ? rest[(slash + 1)..] : "";
        return new ReplicaUrlParts(text, scheme, user, password, host, path, ParseQuery(query));
    }

    /// <summary>
    /// The text with every credential replaced, for logs and errors: the password of a URL's user info (with its
    /// user), secret query values, and every secret this process has seen (see <see cref="Redaction"/>).
    /// </summary>
    public static string Redact(string url) => Redaction.Apply(url);

    /// <summary>
    /// Where the user info of a URL ends: the index of its <c>@</c> in <paramref name="rest"/>, the text after
    /// <c>scheme://</c>; -1 when there is none. Secrets are pasted unescaped and AWS secret keys hold <c>/</c> (a
    /// fuzzed one anything of <c>/ ? @ : % *</c>), so RFC 3986's rule (the authority ends at the first <c>/</c> or
    /// <c>?</c>) would cut a secret in two and print half of it as the bucket. Instead: the URL has user info when its
    /// first delimiter is <c>@</c>, or a <c>:</c> comes before its first <c>/</c> or <c>?</c> (<c>user:secret</c>)
    /// and an <c>@</c> follows; the user info then runs to the LAST <c>@</c>. Bucket and host names hold no <c>@</c>.
    /// </summary>
    internal static int UserInfoEnd(ReadOnlySpan<char> rest)
    {
        int last = rest.LastIndexOf('@');
        if (last < 0)
        {
            return -1;
        }
        int first = rest.IndexOfAny('/', '?', '@');
        return rest[first] == '@' || rest[..first].Contains(':') ? last : -1;
    }

    private static Dictionary<string, string> ParseQuery(string query)
    {
        var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (string pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = pair.IndexOf('=');
            string key = Uri.UnescapeDataString(eq >= 0 ? pair[..eq] : pair);
            string value = result[key] = eq >= 0 ? Uri.UnescapeDataString(pair[(eq + 1)..]) : "";
            if (eq >= 0 && Redaction.IsSecretQueryKey(key))
            {
                Redaction.Register(pair[(eq + 1)..]);
                Redaction.Register(value);
            }
        }
        return result;
    }
}
