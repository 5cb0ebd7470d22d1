namespace Litestream.Storage.Abs;

/// <summary>
/// Settings of an Azure Blob Storage replica: upstream's abs keys. Each property is a litestream.yml key;
/// null means not set (credentials then come from the environment, see <see cref="AbsReplicaClient"/>).
/// </summary>
public sealed partial record AbsReplicaSettings : ReplicaBackendSettings
{
    /// <summary>The container (upstream calls it the bucket).</summary>
    public string? Bucket { get; init; }
    /// <summary>The storage account; the endpoint is <c>https://&lt;account&gt;.blob.core.windows.net</c> unless <see cref="Endpoint"/> is set.</summary>
    public string? AccountName { get; init; }
    /// <summary>The account's shared key, base64 (never printed).</summary>
    [ReplicaSecret]
    public string? AccountKey { get; init; }
    /// <summary>A shared access signature for the container, with or without its leading '?' (never printed).</summary>
    [ReplicaSecret]
    public string? SasToken { get; init; }
    /// <summary>The blob service endpoint, e.g. <c>http://127.0.0.1:10000/devstoreaccount1</c> for Azurite.</summary>
    public string? Endpoint { get; init; }
}
