using Litestream.Storage.S3;

namespace Litestream.Storage.Gs;

/// <summary>
/// A Google Cloud Storage replica reached with HMAC keys through GCS's S3-interoperable XML API (what upstream users
/// get with an <c>s3://</c> replica on <c>endpoint: https://storage.googleapis.com</c>; here a <c>gs://</c> replica
/// with <c>access-key-id</c>/<c>secret-access-key</c> does it). The S3 client with GCS's rules: SigV4 with region
/// <c>auto</c>, path-style requests, no flexible checksums, and one DELETE per object, as the XML API has no
/// multi-object delete. Layout and metadata are S3's (<c>x-goog-meta-</c> is what GCS makes of <c>x-amz-meta-</c>),
/// so the JSON API reads the same <c>litestream-timestamp</c>; objects are named as the gs backend names them
/// (<c>&lt;path&gt;/ltx/&lt;level&gt;/</c>), so the same replica is read whichever credentials reach it.
/// </summary>
public sealed class GsHmacReplicaClient : S3ReplicaClient
{
    /// <summary>The region GCS's XML API takes in a SigV4 signature.</summary>
    public const string SigningRegion = "auto";

    /// <summary>Creates a client; nothing is sent until the first operation.</summary>
    /// <exception cref="ArgumentException">No bucket, or only one of the two HMAC keys.</exception>
    public GsHmacReplicaClient(GsReplicaSettings settings)
        : base(ToS3(settings), "gs", S3Provider.Gcs, gsLayout: true)
    {
    }

    /// <summary>True when <paramref name="settings"/> carry HMAC keys (both; one alone is an error).</summary>
    /// <exception cref="ArgumentException">Only one of the two keys is set.</exception>
    public static bool UsesHmac(GsReplicaSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        bool id = !string.IsNullOrEmpty(settings.AccessKeyId), secret = !string.IsNullOrEmpty(settings.SecretAccessKey);
        return id == secret ? id : throw new ArgumentException("gs HMAC keys need both access-key-id and secret-access-key");
    }

    /// <summary>The S3 settings GCS's XML API rules make of the gs ones.</summary>
    internal static S3ReplicaSettings ToS3(GsReplicaSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (string.IsNullOrEmpty(settings.Bucket))
        {
            throw new ArgumentException("gs replica requires a bucket (gs://bucket/path)");
        }
        string? path = settings.Path?.Trim('/');
        return new S3ReplicaSettings
        {
            Path = path is null or "." ? "" : path,
            MaxRetries = settings.MaxRetries,
            ConnectTimeout = settings.ConnectTimeout,
            RequestTimeout = settings.RequestTimeout,
            Bucket = settings.Bucket,
            Region = SigningRegion,
            Endpoint = string.IsNullOrEmpty(settings.Endpoint) ? GsReplicaClient.DefaultEndpoint : settings.Endpoint,
            ForcePathStyle = true,
            RequireContentMd5 = true,
            SignPayload = true,
            AccessKeyId = settings.AccessKeyId,
            SecretAccessKey = settings.SecretAccessKey,
        };
    }
}
