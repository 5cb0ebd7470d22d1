namespace Litestream.Storage.Oss;

public sealed partial record OssReplicaSettings
{
    /// <summary>
    /// Reads <c>oss://bucket[.oss-&lt;region&gt;[-internal].aliyuncs.com]/path</c> as upstream's <c>oss.ParseHost</c>
    /// does; <c>?endpoint=</c> and <c>?region=</c> are taken too.
    /// </summary>
    internal static ReplicaSettings ParseUrl(ReplicaUrlParts url)
    {
        (string bucket, string? region) = ParseHost(url.Host);
        if (bucket.Length == 0)
        {
            throw url.Invalid("bucket required");
        }
        var options = new Dictionary<string, string>(StringComparer.Ordinal) { [Key.Bucket] = bucket };
        if ((url.Get("region") ?? region) is { } r)
        {
            options[Key.Region] = r;
        }
        url.CopyQuery(options, Key.Endpoint, Key.Endpoint);
        // Upstream joins "<path>/<level>" unnormalised; a URL without a path is "." there (Go path.Clean("")).
        string path = url.Path.Trim('/');
        return new ReplicaSettings { Path = path.Length == 0 ? "." : path, Options = options };
    }

    /// <summary><c>bucket.oss-cn-hangzhou.aliyuncs.com</c> and <c>bucket.oss-cn-hangzhou-internal.aliyuncs.com</c> → bucket and region; anything else is the bucket.</summary>
    internal static (string Bucket, string? Region) ParseHost(string host)
    {
        const string Suffix = ".aliyuncs.com";
        if (!host.EndsWith(Suffix, StringComparison.OrdinalIgnoreCase))
        {
            return (host, null);
        }
        string[] labels = host[..^Suffix.Length].Split('.');
        if (labels.Length > 2 || !labels[^1].StartsWith("oss-", StringComparison.Ordinal))
        {
            return (host, null);
        }
        string region = labels[^1]["oss-".Length..];
        if (region.EndsWith("-internal", StringComparison.Ordinal))
        {
            region = region[..^"-internal".Length];
        }
        return (labels.Length == 2 ? labels[0] : "", region.Length == 0 ? null : region);
    }
}
