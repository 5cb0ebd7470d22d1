using System.Globalization;

namespace Litestream.Storage;

/// <summary>
/// Parses replica URLs into <see cref="ReplicaSettings"/> the way upstream does (REPLICA-LAYOUT.md §9):
/// <c>file:///abs/path</c> or a bare path, <c>s3://bucket/path?endpoint=…&amp;region=…</c> (camelCase and
/// kebab-case query keys), <c>abs://[account@]container/path</c>, <c>sftp://user[:pass]@host[:port]/path</c>,
/// <c>webdav(s)://host/path</c>. Errors never echo a credential: each is registered with <see cref="Redaction"/>.
/// </summary>
public static class ReplicaUrl
{
    /// <summary>True when <paramref name="text"/> has a URL scheme (<c>name://</c>).</summary>
    public static bool IsUrl(string text) => text.Contains("://", StringComparison.Ordinal);

    /// <summary>Parses a replica URL or bare path.</summary>
    public static ReplicaSettings Parse(string text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            throw new ArgumentException("replica url required");
        }
        if (!IsUrl(text))
        {
            return new ReplicaSettings { Type = "file", Path = Path.GetFullPath(text), Url = text };
        }
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
        Dictionary<string, string> parameters = ParseQuery(query);
        string url = Redaction.Apply(text);

        switch (scheme)
        {
            case "file":
                if ((host.Length != 0 && host != "localhost") || user is not null)
                {
                    throw new ArgumentException($"invalid file replica url \"{url}\": host must be empty (file:///absolute/path)");
                }
                return new ReplicaSettings { Type = "file", Path = "/" + path, Url = url };
            case "s3":
                // Like upstream (Go's url.Parse keeps user info out of the host, and its s3 client ignores it),
                // credentials in the URL are not used.
                if (host.Length == 0)
                {
                    throw new ArgumentException($"invalid s3 replica url \"{url}\": bucket required");
                }
                S3.S3Host.Parsed s3Host = S3.S3Host.Parse(host, path);
                string? endpoint = Get(parameters, "endpoint") ?? s3Host.Endpoint;
                return new ReplicaSettings
                {
                    Type = "s3",
                    Url = url,
                    Bucket = s3Host.Bucket,
                    Path = s3Host.Path.Trim('/'),
                    Endpoint = endpoint,
                    Region = Get(parameters, "region") ?? s3Host.Region,
                    ForcePathStyle = GetBool(parameters, "forcePathStyle", "force-path-style") ?? (endpoint is null ? null : true),
                    SkipVerify = GetBool(parameters, "skipVerify", "skip-verify") ?? false,
                    SignPayload = GetBool(parameters, "signPayload", "sign-payload"),
                    RequireContentMd5 = GetBool(parameters, "requireContentMD5", "require-content-md5"),
                    Concurrency = (int)(GetLong(parameters, "concurrency", "concurrency") ?? 0),
                    PartSize = GetLong(parameters, "partSize", "part-size") ?? 0,
                    StorageClass = Get(parameters, "storageClass") ?? Get(parameters, "storage-class"),
                    SseCustomerKey = Get(parameters, "sseCustomerKey") ?? Get(parameters, "sse-customer-key"),
                    SseKmsKeyId = Get(parameters, "sseKmsKeyId") ?? Get(parameters, "sse-kms-key-id"),
                };
            case "abs":
                return new ReplicaSettings { Type = "abs", Url = url, AccountName = user, Bucket = host, Path = path.Trim('/') };
            case "sftp":
                if (host.Length == 0)
                {
                    throw new ArgumentException("invalid sftp replica url: host required");
                }
                return new ReplicaSettings { Type = "sftp", Url = url, Host = host, User = user, Password = password, Path = "/" + path };
            case "webdav":
            case "webdavs":
                return new ReplicaSettings
                {
                    Type = "webdav",
                    Url = url,
                    WebDavUrl = (scheme == "webdavs" ? "https://" : "http://") + host,
                    Path = "/" + path,
                };
            case "gs":
            case "nats":
            case "oss":
                return new ReplicaSettings { Type = scheme, Url = url, Bucket = host, Path = path.Trim('/') };
            default:
                throw new ArgumentException($"unknown replica url scheme \"{scheme}\" in \"{url}\"");
        }
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

    private static string? Get(Dictionary<string, string> parameters, string key)
        => parameters.TryGetValue(key, out string? value) && value.Length > 0 ? value : null;

    private static bool? GetBool(Dictionary<string, string> parameters, string camel, string kebab)
    {
        string? value = Get(parameters, camel) ?? Get(parameters, kebab);
        return value is null ? null : value switch
        {
            "true" or "1" or "t" or "TRUE" or "True" => true,
            "false" or "0" or "f" or "FALSE" or "False" => false,
            _ => throw new ArgumentException($"invalid boolean for {camel}: \"{value}\""),
        };
    }

    private static long? GetLong(Dictionary<string, string> parameters, string camel, string kebab)
    {
        string? value = Get(parameters, camel) ?? Get(parameters, kebab);
        return value is null ? null
            : long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out long n) ? n
            : throw new ArgumentException($"invalid number for {camel}: \"{value}\"");
    }
}
