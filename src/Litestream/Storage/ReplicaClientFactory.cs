namespace Litestream.Storage;

/// <summary>
/// Creates the replica client for a backend type through the generated <see cref="ReplicaClientRegistry"/>
/// (every <see cref="ReplicaBackendAttribute"/> class); an unknown type is a clear error.
/// </summary>
public static class ReplicaClientFactory
{
    /// <summary>The backend types this build can create.</summary>
    public static IReadOnlyList<string> Names => ReplicaClientRegistry.Names;

    /// <summary>Creates a client, inferring the type (and the rest of the settings) from the URL when none is named.</summary>
    public static IReplicaClient Create(ReplicaSettings settings)
    {
        if (settings.Type is null && settings.Url is not null)
        {
            ReplicaSettings parsed = ReplicaUrl.Parse(settings.Url);
            settings = parsed with
            {
                AccessKeyId = settings.AccessKeyId ?? parsed.AccessKeyId,
                SecretAccessKey = settings.SecretAccessKey ?? parsed.SecretAccessKey,
                Region = settings.Region ?? parsed.Region,
                Endpoint = settings.Endpoint ?? parsed.Endpoint,
            };
        }
        string type = settings.Type ?? "file";
        return ReplicaClientRegistry.TryCreate(type, settings, out IReplicaClient? client)
            ? client!
            : throw new NotSupportedException($"replica type \"{type}\" is not supported by this build (supported: {string.Join(", ", Names)})");
    }
}
