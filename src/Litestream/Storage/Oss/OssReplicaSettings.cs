namespace Litestream.Storage.Oss;

/// <summary>
/// Settings of an Alibaba Cloud OSS replica: upstream's oss keys. OSS is reached through its S3-compatible API
/// (see <see cref="OssReplicaClient"/>); null means not set.
/// </summary>
public sealed partial record OssReplicaSettings : ReplicaBackendSettings
{
    /// <summary>The bucket (required).</summary>
    public string? Bucket { get; init; }
    /// <summary>The region, e.g. <c>cn-hangzhou</c> (the default, as upstream).</summary>
    public string? Region { get; init; }
    /// <summary>A custom endpoint; null = <c>https://oss-&lt;region&gt;.aliyuncs.com</c>.</summary>
    public string? Endpoint { get; init; }
    /// <summary>AccessKey ID; null = <c>OSS_ACCESS_KEY_ID</c>, then the S3 sources (never printed).</summary>
    [ReplicaSecret]
    public string? AccessKeyId { get; init; }
    /// <summary>AccessKey secret; null = <c>OSS_ACCESS_KEY_SECRET</c>, then the S3 sources (never printed).</summary>
    [ReplicaSecret]
    public string? SecretAccessKey { get; init; }
    /// <summary>Multipart part size in bytes; null = 5 MiB.</summary>
    [ReplicaSize]
    public long? PartSize { get; init; }
    /// <summary>Parts uploaded at once; null = 5.</summary>
    public int? Concurrency { get; init; }
}
