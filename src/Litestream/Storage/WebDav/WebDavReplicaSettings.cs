namespace Litestream.Storage.WebDav;

/// <summary>
/// Settings of a WebDAV replica: upstream's webdav keys. Each property is a litestream.yml key; null means not set.
/// </summary>
public sealed partial record WebDavReplicaSettings : ReplicaBackendSettings
{
    /// <summary>
    /// The server, <c>http://host[:port]</c> or <c>https://…</c>, optionally with a base path the replica path is
    /// under (<c>https://cloud.example.com/remote.php/dav/files/me</c>).
    /// </summary>
    [ReplicaKey("webdav-url")]
    public string? WebDavUrl { get; init; }
    /// <summary>The user to log in as (Basic or Digest, as the server asks); none: no login.</summary>
    [ReplicaKey("webdav-username")]
    public string? WebDavUsername { get; init; }
    /// <summary>The user's password (never printed).</summary>
    [ReplicaKey("webdav-password")]
    [ReplicaSecret]
    public string? WebDavPassword { get; init; }
}
