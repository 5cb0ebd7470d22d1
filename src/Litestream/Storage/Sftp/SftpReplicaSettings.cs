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
    /// The server's public host key as in known_hosts or a .pub file (<c>ssh-ed25519 AAAA…</c>). A server presenting
    /// another key is refused. Without it every key is refused unless <see cref="InsecureIgnoreHostKey"/> is set.
    /// </summary>
    public string? HostKey { get; init; }
    /// <summary>
    /// Accepts any server key when no <see cref="HostKey"/> is set: upstream's behaviour, open to a man in the middle.
    /// Not an upstream key; null = false, so a replica without host-key fails and its hint prints the key to set.
    /// </summary>
    public bool? InsecureIgnoreHostKey { get; init; }
    /// <summary>Pipelines the writes of an upload (several requests in flight); null = true, as upstream.</summary>
    public bool? ConcurrentWrites { get; init; }
}
