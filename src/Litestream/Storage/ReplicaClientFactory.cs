namespace Litestream.Storage;

/// <summary>
/// Creates replica clients from settings or a URL, for every backend of this build (through the generated
/// <see cref="ReplicaClientRegistry"/>); an unknown type is a clear error. Clients of a known backend can
/// also be constructed directly from their typed settings (<c>new S3ReplicaClient(new S3ReplicaSettings { … })</c>).
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

    /// <summary>
    /// Creates a client. With a <see cref="ReplicaSettings.Url"/>, the URL supplies the type, the path and every
    /// key the settings do not set themselves (explicit settings win).
    /// </summary>
    /// <exception cref="ArgumentException">The URL is malformed, or a setting is not valid for the backend.</exception>
    /// <exception cref="NotSupportedException">The type names no backend of this build (<see cref="BackendNotInBuildException"/>
    /// when the build was published without it).</exception>
    public static IReplicaClient Create(ReplicaSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings = WithUrl(settings);
        Redaction.Register(settings);
        string type = settings.Type ?? "file";
        return ReplicaClientRegistry.TryCreate(type, settings, out IReplicaClient? client)
            ? client!
            : throw (ReplicaClientRegistry.Omitted.Contains(type)
                ? new BackendNotInBuildException(type, Names)
                : new NotSupportedException($"replica type \"{type}\" is not supported by this build (supported: {string.Join(", ", Names)})"));
    }

    /// <summary>
    /// How the value of backend key <paramref name="key"/> (<see cref="ReplicaSettings.Options"/>) is written, for
    /// whichever backend of this build declares it; null when none does. A config reader binds the key's value by it.
    /// </summary>
    public static ReplicaKeyKind? KeyKind(string key) => ReplicaClientRegistry.KeyKind(key);

    /// <summary>
    /// The settings with what their URL names filled in under them: explicit type, path and keys win. <see cref="Create"/>
    /// does this itself; a caller that looks at the settings before creating a client (the path of a directory replica) does it first.
    /// </summary>
    /// <exception cref="ArgumentException">The URL is malformed.</exception>
    public static ReplicaSettings WithUrl(ReplicaSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.Url is null)
        {
            return settings;
        }
        ReplicaSettings parsed = ReplicaUrl.Parse(settings.Url);
        return settings.WithDefaultOptions(parsed.Options) with
        {
            Type = settings.Type ?? parsed.Type,
            Path = settings.Path ?? parsed.Path,
        };
    }
}
