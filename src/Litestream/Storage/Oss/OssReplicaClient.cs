using Litestream.Storage.S3;

namespace Litestream.Storage.Oss;

/// <summary>
/// A replica in Alibaba Cloud OSS (upstream <c>oss.ReplicaClient</c>) through OSS's S3-compatible API: the same
/// layout as S3 (<c>&lt;path&gt;/&lt;level as %04x&gt;/&lt;min&gt;-&lt;max&gt;.ltx</c>, metadata <c>litestream-timestamp</c>,
/// which OSS stores as <c>x-oss-meta-litestream-timestamp</c>, as upstream's OSS SDK does). OSS's rules: the
/// endpoint is <c>https://oss-&lt;region&gt;.aliyuncs.com</c> (region <c>cn-hangzhou</c> by default), addressing is
/// virtual-hosted (OSS refuses path style), multi-object deletes carry Content-MD5, and no flexible checksums
/// are sent. Credentials: the settings, else <c>OSS_ACCESS_KEY_ID</c>/<c>OSS_ACCESS_KEY_SECRET</c>, else the S3 sources.
/// </summary>
[ReplicaBackend("oss")]
public sealed class OssReplicaClient : S3ReplicaClient
{
    /// <summary>Upstream's <c>oss.DefaultRegion</c>.</summary>
    public const string DefaultOssRegion = "cn-hangzhou";

    /// <summary>Creates a client; nothing is sent until the first operation.</summary>
    /// <exception cref="ArgumentException">The bucket is missing or a size/concurrency setting is out of range.</exception>
    public OssReplicaClient(OssReplicaSettings settings)
        : base(ToS3(settings), "oss")
    {
    }

    /// <summary>Creates the client from settings (used by <see cref="ReplicaClientFactory"/>).</summary>
    public static IReplicaClient Create(OssReplicaSettings settings) => new OssReplicaClient(settings);

    /// <summary>The S3 settings OSS's rules make of the OSS ones.</summary>
    internal static S3ReplicaSettings ToS3(OssReplicaSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        string region = string.IsNullOrEmpty(settings.Region) ? DefaultOssRegion : settings.Region;
        string? endpoint = string.IsNullOrEmpty(settings.Endpoint) ? null : settings.Endpoint;
        bool custom = endpoint is not null && !endpoint.Contains(".aliyuncs.com", StringComparison.OrdinalIgnoreCase);
        string? keyId = settings.AccessKeyId, secret = settings.SecretAccessKey;
        if (string.IsNullOrEmpty(keyId) && string.IsNullOrEmpty(secret))
        {
            keyId = Environment.GetEnvironmentVariable("OSS_ACCESS_KEY_ID");
            secret = Environment.GetEnvironmentVariable("OSS_ACCESS_KEY_SECRET");
        }
        return new S3ReplicaSettings
        {
            Path = settings.Path,
            MaxRetries = settings.MaxRetries,
            ConnectTimeout = settings.ConnectTimeout,
            RequestTimeout = settings.RequestTimeout,
            Bucket = settings.Bucket,
            Region = region,
            Endpoint = endpoint ?? $"https://oss-{region}.aliyuncs.com",
            // OSS itself takes virtual-hosted requests only; a custom endpoint (a proxy, a test server) is
            // addressed by path, as every other custom S3 endpoint.
            ForcePathStyle = custom,
            RequireContentMd5 = true,
            SignPayload = true,
            AccessKeyId = keyId,
            SecretAccessKey = secret,
            PartSize = settings.PartSize,
            Concurrency = settings.Concurrency,
        };
    }
}
