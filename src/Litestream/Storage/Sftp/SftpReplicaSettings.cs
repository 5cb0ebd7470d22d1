namespace Litestream.Storage.Sftp;

/// <summary>
/// Settings of an SFTP replica: upstream's sftp keys. Each property is a litestream.yml key; null means not set.
/// </summary>
public sealed partial record SftpReplicaSettings : ReplicaBackendSettings
{
    /// <summary>The server, <c>host</c> or <c>host:port</c> (port 22 when none is given).</summary>
    public string? Host { get; init; }
    /// <summary>The user to log in as (required).</summary>
    public string? User { get; init; }
    /// <summary>The user's password (never printed); tried besides <see cref="KeyPath"/> when both are set.</summary>
    [ReplicaSecret]
    public string? Password { get; init; }
    /// <summary>A private key file (OpenSSH or PEM, unencrypted) to log in with.</summary>
    public string? KeyPath { get; init; }
    /// <summary>
    /// The server's public host key as in known_hosts or a .pub file (<c>ssh-ed25519 AAAA…</c>). When set, a server
    /// presenting another key is refused; when not set, any key is accepted, as upstream does, with a warning.
    /// </summary>
    public string? HostKey { get; init; }
    /// <summary>Pipelines the writes of an upload (several requests in flight); null = true, as upstream.</summary>
    public bool? ConcurrentWrites { get; init; }
}
