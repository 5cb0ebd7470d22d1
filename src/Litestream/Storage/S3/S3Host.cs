using System.Globalization;

namespace Litestream.Storage.S3;

/// <summary>
/// Reads provider-specific S3 host names in a replica URL's host part, as upstream's <c>ParseHost</c>
/// does (REPLICA-LAYOUT.md §7): <c>s3://bucket.s3.us-west-2.amazonaws.com/db</c> names the bucket and its
/// region, <c>s3://bucket.nyc3.digitaloceanspaces.com/db</c> also an endpoint, <c>s3://bucket.host:9000/db</c>
/// a plain-HTTP endpoint, and <c>s3://arn:aws:s3:region:account:accesspoint/name/db</c> an access point.
/// </summary>
internal static class S3Host
{
    /// <summary>What the host part says: the bucket, and the region and endpoint when the host implies them.</summary>
    internal readonly record struct Parsed(string Bucket, string Path, string? Region, string? Endpoint);

    /// <summary>Splits a URL's host and path into bucket, key prefix, region and endpoint.</summary>
    public static Parsed Parse(string host, string path)
    {
        if (host.StartsWith("arn:", StringComparison.Ordinal))
        {
            // arn:aws:s3:<region>:<account>:accesspoint/<name>: the access point name is the first path segment.
            int slash = path.IndexOf('/');
            string name = slash >= 0 ? path[..slash] : path;
            string rest = slash >= 0 ? path[(slash + 1)..] : "";
            string[] fields = host.Split(':');
            return new Parsed($"{host}/{name}", rest, fields.Length > 3 && fields[3].Length > 0 ? fields[3] : null, null);
        }

        string name2 = host;
        string? port = null;
        int colon = host.LastIndexOf(':');
        if (colon >= 0 && int.TryParse(host.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out _))
        {
            name2 = host[..colon];
            port = host[(colon + 1)..];
        }
        string withPort(string endpointHost) => port is null ? endpointHost : $"{endpointHost}:{port}";

        string[] labels = name2.Split('.');
        int n = labels.Length;
        // <bucket>.s3.<region>.amazonaws.com, <bucket>.s3-<region>.amazonaws.com, <bucket>.s3.amazonaws.com
        if (n >= 3 && name2.EndsWith(".amazonaws.com", StringComparison.OrdinalIgnoreCase))
        {
            int s3 = Array.FindLastIndex(labels, l => l == "s3" || l.StartsWith("s3-", StringComparison.Ordinal));
            if (s3 > 0)
            {
                string bucket = string.Join('.', labels[..s3]);
                string? region = labels[s3].StartsWith("s3-", StringComparison.Ordinal) ? labels[s3][3..]
                    : s3 + 1 < n - 2 ? labels[s3 + 1] : null;
                return new Parsed(bucket, path, region, null);
            }
        }
        // <bucket>.<region>.digitaloceanspaces.com / .linodeobjects.com
        foreach (string provider in (ReadOnlySpan<string>)["digitaloceanspaces.com", "linodeobjects.com"])
        {
            if (n >= 4 && name2.EndsWith("." + provider, StringComparison.OrdinalIgnoreCase))
            {
                string region = labels[n - 3];
                return new Parsed(string.Join('.', labels[..(n - 3)]), path, region, $"https://{withPort($"{region}.{provider}")}");
            }
        }
        // <bucket>.s3.<region>.backblazeb2.com / .scw.cloud
        foreach (string provider in (ReadOnlySpan<string>)["backblazeb2.com", "scw.cloud"])
        {
            if (n >= 5 && name2.EndsWith("." + provider, StringComparison.OrdinalIgnoreCase) && labels[n - 4] == "s3")
            {
                string region = labels[n - 3];
                return new Parsed(string.Join('.', labels[..(n - 4)]), path, region, $"https://{withPort($"s3.{region}.{provider}")}");
            }
        }
        // <bucket>.s3.filebase.com
        if (n >= 4 && name2.EndsWith(".s3.filebase.com", StringComparison.OrdinalIgnoreCase))
        {
            return new Parsed(string.Join('.', labels[..(n - 3)]), path, null, $"https://{withPort("s3.filebase.com")}");
        }
        // <bucket>.localhost[:port] and <bucket>.<host>:<port>: a local or self-hosted server over plain HTTP.
        if (n >= 2 && (port is not null || labels[n - 1] == "localhost"))
        {
            return new Parsed(labels[0], path, null, $"http://{withPort(string.Join('.', labels[1..]))}");
        }
        return new Parsed(host, path, null, null);
    }
}
