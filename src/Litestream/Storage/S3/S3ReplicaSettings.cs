namespace Litestream.Storage.S3;

/// <summary>
/// Settings of an S3 (or S3-compatible) replica: upstream's s3 keys. Each property is a litestream.yml key
/// (kebab-case of its name); null means not set, so the client's default applies.
/// </summary>
public sealed partial record S3ReplicaSettings : ReplicaBackendSettings
{
    /// <summary>The bucket (required).</summary>
    public string? Bucket { get; init; }
    /// <summary>The region; looked up from the bucket when neither it nor an endpoint is set.</summary>
    public string? Region { get; init; }
    /// <summary>A custom endpoint, e.g. <c>http://127.0.0.1:9000</c> (https:// is assumed without a scheme, http:// for a local host).</summary>
    public string? Endpoint { get; init; }
    /// <summary>Path-style addressing; null = decided from the endpoint as upstream does.</summary>
    public bool? ForcePathStyle { get; init; }
    /// <summary>Skip TLS certificate verification.</summary>
    public bool? SkipVerify { get; init; }
    /// <summary>Sign request payloads (false = UNSIGNED-PAYLOAD); null = the provider's default.</summary>
    public bool? SignPayload { get; init; }
    /// <summary>Send Content-MD5 on batch deletes; null = the provider's default.</summary>
    [ReplicaKey("require-content-md5")]
    public bool? RequireContentMd5 { get; init; }
    /// <summary>The storage class of uploads.</summary>
    public string? StorageClass { get; init; }
    /// <summary>Multipart part size in bytes; null or 0 = 5 MiB.</summary>
    [ReplicaSize]
    public long? PartSize { get; init; }
    /// <summary>Parts uploaded at once; null or 0 = 5.</summary>
    public int? Concurrency { get; init; }
    /// <summary>Access key id (never printed).</summary>
    [ReplicaSecret]
    public string? AccessKeyId { get; init; }
    /// <summary>Secret access key (never printed).</summary>
    [ReplicaSecret]
    public string? SecretAccessKey { get; init; }
    /// <summary>SSE-C algorithm (AES256).</summary>
    public string? SseCustomerAlgorithm { get; init; }
    /// <summary>SSE-C key, base64 (never printed).</summary>
    [ReplicaSecret]
    public string? SseCustomerKey { get; init; }
    /// <summary>Path of a file holding the SSE-C key.</summary>
    public string? SseCustomerKeyPath { get; init; }
    /// <summary>SSE-KMS key id.</summary>
    public string? SseKmsKeyId { get; init; }
}
