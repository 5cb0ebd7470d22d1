namespace Litestream.Storage;

/// <summary>
/// Creates replica clients from settings or a URL, for every backend of this build (through the generated
/// <see cref="ReplicaClientRegistry"/>); an unknown type is a clear error. Clients of a known backend can
/// also be constructed directly (<see cref="File.FileReplicaClient"/>, <see cref="S3.S3ReplicaClient"/>).
/// </summary>
public static class ReplicaClientFactory
{
    /// <summary>The backend types this build can create.</summary>
    public static IReadOnlyList<string> Names => ReplicaClientRegistry.Names;

    /// <summary>
    /// Creates the client for a replica URL or bare path (upstream <c>NewReplicaClientFromURL</c>):
    /// <c>file:///var/backups/db</c>, <c>s3://bucket/path?endpoint=…&amp;region=…</c>, … (see <see cref="ReplicaUrl"/>).
    /// Credentials not in the URL come from the backend's usual sources (e.g. <c>AWS_ACCESS_KEY_ID</c>).
    /// </summary>
    /// <exception cref="ArgumentException">The URL is malformed.</exception>
    /// <exception cref="NotSupportedException">The scheme names no backend of this build.</exception>
    public static IReplicaClient CreateFromUrl(string url)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(url);
        return Create(new ReplicaSettings { Url = url });
    }

    /// <summary>Creates a client, inferring the type (and the rest of the settings) from the URL when none is named.</summary>
    /// <exception cref="NotSupportedException">The type names no backend of this build.</exception>
    public static IReplicaClient Create(ReplicaSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
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
        Redaction.Register(settings);
        string type = settings.Type ?? "file";
        return ReplicaClientRegistry.TryCreate(type, settings, out IReplicaClient? client)
            ? client!
            : throw new NotSupportedException($"replica type \"{type}\" is not supported by this build (supported: {string.Join(", ", Names)})");
    }
}
