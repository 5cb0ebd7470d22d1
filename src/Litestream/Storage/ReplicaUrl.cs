using System.Globalization;

namespace Litestream.Storage;

/// <summary>
/// Parses replica URLs into <see cref="ReplicaSettings"/> the way upstream does (REPLICA-LAYOUT.md §9):
/// <c>file:///abs/path</c> or a bare path, <c>s3://bucket/path?endpoint=…&amp;region=…</c> (camelCase and
/// kebab-case query keys), <c>abs://[account@]container/path</c>, <c>sftp://user[:pass]@host[:port]/path</c>,
/// <c>webdav(s)://host/path</c>. Errors never echo a password.
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

        switch (scheme)
        {
            case "file":
                if (host.Length != 0 && host != "localhost")
                {
                    throw new ArgumentException($"invalid file replica url \"{text}\": host must be empty (file:///absolute/path)");
                }
                return new ReplicaSettings { Type = "file", Path = "/" + path, Url = text };
            case "s3":
                // Like upstream (Go's url.Parse keeps user info out of the host, and its s3 client ignores it),
                // credentials in the URL are not used; they are never echoed either.
                host = host[(host.LastIndexOf('@') + 1)..];
                if (host.Length == 0)
                {
                    throw new ArgumentException($"invalid s3 replica url \"{Redact(text)}\": bucket required");
                }
                S3.S3Host.Parsed s3Host = S3.S3Host.Parse(host, path);
                string? endpoint = Get(parameters, "endpoint") ?? s3Host.Endpoint;
                return new ReplicaSettings
                {
                    Type = "s3",
                    Url = Redact(text),
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
            {
                string? account = null;
                int at = host.IndexOf('@');
                if (at >= 0)
                {
                    account = host[..at];
                    host = host[(at + 1)..];
                }
                return new ReplicaSettings { Type = "abs", Url = text, AccountName = account, Bucket = host, Path = path.Trim('/') };
            }
            case "sftp":
            {
                string? user = null, password = null;
                int at = host.LastIndexOf('@');
                if (at >= 0)
                {
                    string userInfo = host[..at];
                    host = host[(at + 1)..];
                    int colon = userInfo.IndexOf(':');
                    user = Uri.UnescapeDataString(colon >= 0 ? userInfo[..colon] : userInfo);
                    password = colon >= 0 ? Uri.UnescapeDataString(userInfo[(colon + 1)..]) : null;
                }
                if (host.Length == 0)
                {
                    throw new ArgumentException("invalid sftp replica url: host required");
                }
                return new ReplicaSettings { Type = "sftp", Url = Redact(text), Host = host, User = user, Password = password, Path = "/" + path };
            }
            case "webdav":
            case "webdavs":
                return new ReplicaSettings
                {
                    Type = "webdav",
                    Url = Redact(text),
                    WebDavUrl = (scheme == "webdavs" ? "https://" : "http://") + host,
                    Path = "/" + path,
                };
            case "gs":
            case "nats":
            case "oss":
                return new ReplicaSettings { Type = scheme, Url = text, Bucket = host, Path = path.Trim('/') };
            default:
                throw new ArgumentException($"unknown replica url scheme \"{scheme}\" in \"{Redact(text)}\"");
        }
    }

    /// <summary>
    /// The URL with any <c>user:password@</c> password and any secret query value (<c>sseCustomerKey</c>)
    /// replaced, for logs and errors.
    /// </summary>
    public static string Redact(string url)
    {
        int schemeEnd = url.IndexOf("://", StringComparison.Ordinal);
        if (schemeEnd < 0)
        {
            return url;
        }
        url = RedactQuery(url);
        int hostStart = schemeEnd + 3;
        int hostEnd = url.IndexOfAny(['/', '?'], hostStart);
        string authority = hostEnd < 0 ? url[hostStart..] : url[hostStart..hostEnd];
        int at = authority.LastIndexOf('@');
        int colon = at >= 0 ? authority.IndexOf(':') : -1;
        if (colon < 0 || colon > at)
        {
            return url;
        }
        return url[..(hostStart + colon + 1)] + "REDACTED" + url[(hostStart + at)..];
    }

    private static string RedactQuery(string url)
    {
        int q = url.IndexOf('?');
        if (q < 0)
        {
            return url;
        }
        string[] pairs = url[(q + 1)..].Split('&');
        for (int i = 0; i < pairs.Length; i++)
        {
            int eq = pairs[i].IndexOf('=');
            string key = eq >= 0 ? pairs[i][..eq] : pairs[i];
            if (eq >= 0 && s_secretQueryKeys.Contains(Uri.UnescapeDataString(key)))
            {
                pairs[i] = key + "=REDACTED";
            }
        }
        return url[..(q + 1)] + string.Join('&', pairs);
    }

    private static readonly HashSet<string> s_secretQueryKeys = new(StringComparer.OrdinalIgnoreCase)
    {
        "sseCustomerKey", "sse-customer-key", "secret-access-key", "secretAccessKey", "password", "token", "sas-token",
    };

    private static Dictionary<string, string> ParseQuery(string query)
    {
        var result = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (string pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = pair.IndexOf('=');
            string key = Uri.UnescapeDataString(eq >= 0 ? pair[..eq] : pair);
            result[key] = eq >= 0 ? Uri.UnescapeDataString(pair[(eq + 1)..]) : "";
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
