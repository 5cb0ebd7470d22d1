namespace Litestream.Storage.Gs;

/// <summary>
/// Settings of a Google Cloud Storage replica: upstream's gs keys (only the bucket; credentials are Application
/// Default Credentials, see <see cref="GsCredentials"/>). Null means not set.
/// </summary>
public sealed partial record GsReplicaSettings : ReplicaBackendSettings
{
    /// <summary>The bucket (required).</summary>
    public string? Bucket { get; init; }
}
