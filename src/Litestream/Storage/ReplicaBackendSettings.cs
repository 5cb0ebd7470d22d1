using System.Text;

namespace Litestream.Storage;

/// <summary>
/// The base of every backend's settings record (<c>S3ReplicaSettings</c>, <c>AbsReplicaSettings</c>, …): the
/// members every backend shares. A backend's own public init properties are its litestream.yml keys; the
/// generator binds them from <see cref="ReplicaSettings.Options"/> (see Storage/README.md).
/// </summary>
public abstract record ReplicaBackendSettings
{
    private string? _path;
    private int? _maxRetries;
    private TimeSpan? _connectTimeout;
    private TimeSpan? _requestTimeout;

    /// <summary>Path inside the backend (directory for file, key prefix for object stores).</summary>
    public string? Path { get => _path; init => _path = value; }

    /// <summary>Retries of a failed request after the first attempt; null = the backend's default.</summary>
    public int? MaxRetries { get => _maxRetries; init => _maxRetries = value; }

    /// <summary>Longest TCP connect (and TLS handshake) of a network backend; null = the backend's default.</summary>
    public TimeSpan? ConnectTimeout { get => _connectTimeout; init => _connectTimeout = value; }

    /// <summary>Longest single request attempt of a network backend; null = the backend's default.</summary>
    public TimeSpan? RequestTimeout { get => _requestTimeout; init => _requestTimeout = value; }

    /// <summary>Takes the generic members from <paramref name="settings"/>; the generated <c>Bind</c> calls it on the record it has just made.</summary>
    internal void CopyGenericMembers(ReplicaSettings settings)
    {
        _path = settings.Path;
        _maxRetries = settings.MaxRetries;
        _connectTimeout = settings.ConnectTimeout;
        _requestTimeout = settings.RequestTimeout;
    }

    /// <summary>The members ToString prints (the generated part of each backend adds its keys, secrets as REDACTED).</summary>
    protected virtual bool PrintMembers(StringBuilder builder)
    {
        bool any = ReplicaKeyValues.PrintMember(builder, false, nameof(Path), Path, secret: false);
        any = ReplicaKeyValues.PrintMember(builder, any, nameof(MaxRetries), MaxRetries, secret: false);
        any = ReplicaKeyValues.PrintMember(builder, any, nameof(ConnectTimeout), ConnectTimeout, secret: false);
        return ReplicaKeyValues.PrintMember(builder, any, nameof(RequestTimeout), RequestTimeout, secret: false);
    }
}
