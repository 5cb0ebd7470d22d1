namespace Litestream.Storage.S3;

/// <summary>
/// What an S3-compatible provider needs, detected from the endpoint's host as upstream does
/// (<c>replica_url.go</c> <c>Is…Endpoint</c>, <c>s3.NewReplicaClientFromURL</c>): each value applies only when the
/// user did not set it. Every custom endpoint also gets no flexible checksums and no aws-chunked bodies (see
/// <see cref="S3ReplicaClient"/>), which B2, MinIO, Filebase, Tigris and others reject.
/// </summary>
/// <param name="Name">The provider, for logs and tests ("aws", "r2", "b2", "tigris", "minio", …, "other").</param>
/// <param name="ForcePathStyle">Path-style addressing required (Filebase, B2, MinIO, Supabase); null = the usual rule.</param>
/// <param name="RequireContentMd5">Content-MD5 on multi-object deletes; Tigris takes none.</param>
/// <param name="Concurrency">Parts uploaded at once (R2 limits concurrent multipart uploads).</param>
/// <param name="ConsistentReads">Send <c>X-Tigris-Consistent: true</c> so reads follow writes globally.</param>
/// <param name="SingleObjectDeletes">Delete one object a request: the store has no multi-object delete (GCS's XML API).</param>
internal sealed record S3Provider(string Name, bool? ForcePathStyle = null, bool? RequireContentMd5 = null, int? Concurrency = null, bool ConsistentReads = false,
    bool SingleObjectDeletes = false)
{
    /// <summary>
    /// Google Cloud Storage's S3-interoperable XML API (HMAC keys): no multi-object delete (<c>POST ?delete</c> is
    /// not implemented there), path-style requests, no flexible checksums (as every custom endpoint).
    /// </summary>
    public static readonly S3Provider Gcs = new("gcs", ForcePathStyle: true, SingleObjectDeletes: true);

    /// <summary>Upstream's <c>DefaultR2Concurrency</c>.</summary>
    public const int R2Concurrency = 2;

    /// <summary>The provider of <paramref name="endpoint"/> (null: AWS itself).</summary>
    public static S3Provider Detect(string? endpoint)
    {
        if (endpoint is null)
        {
            return new S3Provider("aws");
        }
        string host = Host(endpoint);
        string name = host.Split(':')[0];
        return host switch
        {
            "fly.storage.tigris.dev" or "t3.storage.dev" => new S3Provider("tigris", RequireContentMd5: false, ConsistentReads: true),
            _ when name.EndsWith(".r2.cloudflarestorage.com", StringComparison.Ordinal) => new S3Provider("r2", Concurrency: R2Concurrency),
            _ when name.EndsWith(".backblazeb2.com", StringComparison.Ordinal) => new S3Provider("b2", ForcePathStyle: true),
            _ when name == "s3.filebase.com" => new S3Provider("filebase", ForcePathStyle: true),
            _ when name.EndsWith(".supabase.co", StringComparison.Ordinal) => new S3Provider("supabase", ForcePathStyle: true),
            _ when name.EndsWith(".digitaloceanspaces.com", StringComparison.Ordinal) => new S3Provider("digitalocean"),
            _ when name.EndsWith(".scw.cloud", StringComparison.Ordinal) => new S3Provider("scaleway"),
            _ when name.EndsWith(".your-objectstorage.com", StringComparison.Ordinal) => new S3Provider("hetzner"),
            _ when name.EndsWith(".aliyuncs.com", StringComparison.Ordinal) => new S3Provider("oss", ForcePathStyle: false),
            _ when name.EndsWith(".amazonaws.com", StringComparison.Ordinal) => new S3Provider("aws"),
            _ when IsGoogleCloudStorage(name) => Gcs,
            // upstream IsMinIOEndpoint: a host:port that is no known cloud
            _ when host.Contains(':', StringComparison.Ordinal) => new S3Provider("minio", ForcePathStyle: true),
            _ => new S3Provider("other"),
        };
    }

    /// <summary>
    /// An endpoint as a URL: kept when it has a scheme, else http:// for a local or private host and https://
    /// for everything else (upstream <c>EnsureEndpointScheme</c>).
    /// </summary>
    public static string WithScheme(string endpoint)
    {
        if (endpoint.Contains("://", StringComparison.Ordinal))
        {
            return endpoint;
        }
        string name = Host(endpoint).Split(':')[0];
        bool local = name is "localhost" or "127.0.0.1" || name.StartsWith("192.168.", StringComparison.Ordinal) || name.StartsWith("10.", StringComparison.Ordinal)
            || IsPrivate172(name) || name.EndsWith(".local", StringComparison.Ordinal) || name.EndsWith(".localhost", StringComparison.Ordinal);
        return (local ? "http://" : "https://") + endpoint;
    }

    /// <summary>
    /// Upstream's <c>IsGoogleCloudStorageEndpoint</c>: a *.googleapis.com host whose first label has a "storage"
    /// segment (storage., us-central1-storage., storage-upload.), or a regional <c>storage.REGION.rep.googleapis.com</c>;
    /// never a bucket-style or look-alike host (bucket.storage.googleapis.com, storage.googleapis.com.evil.com).
    /// </summary>
    internal static bool IsGoogleCloudStorage(string name)
    {
        string[] labels = name.TrimEnd('.').Split('.');
        if (labels.Length < 3 || labels[^2] != "googleapis" || labels[^1] != "com" || labels.Any(l => l.Length == 0))
        {
            return false;
        }
        if (labels.Length > 3 && labels[1].Split('-').Contains("storage"))
        {
            return false;
        }
        return labels[0].Split('-').Contains("storage");
    }

    private static bool IsPrivate172(string name)
    {
        string[] octets = name.Split('.');
        return octets.Length == 4 && octets[0] == "172" && int.TryParse(octets[1], out int second) && second is >= 16 and <= 31;
    }

    /// <summary>The endpoint's host[:port], lowercase, without scheme, user info or path.</summary>
    private static string Host(string endpoint)
    {
        string rest = endpoint.Trim().ToLowerInvariant();
        int scheme = rest.IndexOf("://", StringComparison.Ordinal);
        if (scheme >= 0)
        {
            rest = rest[(scheme + 3)..];
        }
        int slash = rest.IndexOf('/');
        if (slash >= 0)
        {
            rest = rest[..slash];
        }
        return rest[(rest.LastIndexOf('@') + 1)..];
    }
}
