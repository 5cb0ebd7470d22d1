namespace Litestream.Storage.Gs;

/// <summary>
/// Settings of a Google Cloud Storage replica: upstream's gs keys (the bucket; credentials are Application Default
/// Credentials, see <see cref="GsCredentials"/>), plus HMAC keys, which send every request through GCS's
/// S3-interoperable XML API instead (<see cref="GsHmacReplicaClient"/>). Null means not set.
/// </summary>
public sealed partial record GsReplicaSettings : ReplicaBackendSettings
{
    /// <summary>The bucket (required).</summary>
    public string? Bucket { get; init; }
    /// <summary>
    /// Where requests go instead of <c>https://storage.googleapis.com</c> (a private endpoint, a proxy); with HMAC
    /// keys the XML API's endpoint. <c>STORAGE_EMULATOR_HOST</c> still wins for the JSON API.
    /// </summary>
    public string? Endpoint { get; init; }
    /// <summary>HMAC access ID (<c>GOOG…</c>) of a service account's HMAC key; with <see cref="SecretAccessKey"/> the XML API is used (never printed).</summary>
    [ReplicaSecret]
    public string? AccessKeyId { get; init; }
    /// <summary>HMAC secret of that key (never printed).</summary>
    [ReplicaSecret]
    public string? SecretAccessKey { get; init; }
}
