namespace Litestream.Storage.Nats;

/// <summary>
/// Settings of a NATS JetStream object store replica: upstream's nats keys. Each property is a litestream.yml key;
/// null means not set. Authentication is the first of jwt + seed, creds, nkey, username + password, token that is
/// set (upstream's order).
/// </summary>
public sealed partial record NatsReplicaSettings : ReplicaBackendSettings
{
    /// <summary>The server, <c>host</c> or <c>host:port</c> (port 4222 when none is given); the replica URL's host.</summary>
    public string? Host { get; init; }
    /// <summary>The object store bucket; it must exist (upstream does not create it either).</summary>
    public string? Bucket { get; init; }
    /// <summary>A user JWT, used with <see cref="Seed"/> (never printed).</summary>
    [ReplicaSecret]
    public string? Jwt { get; init; }
    /// <summary>The user's NKey seed (<c>SU…</c>) that signs the server's nonce with <see cref="Jwt"/> (never printed).</summary>
    [ReplicaSecret]
    public string? Seed { get; init; }
    /// <summary>A credentials file (<c>.creds</c>: the JWT and the seed).</summary>
    public string? Creds { get; init; }
    /// <summary>An NKey seed (<c>SU…</c>), or a file holding one, for NKey authentication without a JWT (never printed).</summary>
    [ReplicaSecret]
    public string? Nkey { get; init; }
    /// <summary>The user name, with <see cref="Password"/>; also taken from the URL's user info.</summary>
    public string? Username { get; init; }
    /// <summary>The user's password (never printed).</summary>
    [ReplicaSecret]
    public string? Password { get; init; }
    /// <summary>An authentication token (never printed).</summary>
    [ReplicaSecret]
    public string? Token { get; init; }
    /// <summary>Requires TLS (the server's certificate is verified against the system roots or <see cref="RootCas"/>).</summary>
    public bool? Tls { get; init; }
    /// <summary>PEM files of the certificate authorities that sign the server's certificate.</summary>
    public IReadOnlyList<string>? RootCas { get; init; }
    /// <summary>A PEM client certificate for mutual TLS, with <see cref="ClientKey"/>.</summary>
    public string? ClientCert { get; init; }
    /// <summary>The PEM private key of <see cref="ClientCert"/>.</summary>
    public string? ClientKey { get; init; }
    /// <summary>Reconnect attempts after a lost connection; -1 (the default) for no limit.</summary>
    public int? MaxReconnects { get; init; }
    /// <summary>The wait between reconnect attempts (default 2s).</summary>
    public TimeSpan? ReconnectWait { get; init; }
    /// <summary>The longest connect (TCP, TLS and the NATS handshake); default 10s, as upstream.</summary>
    public TimeSpan? Timeout { get; init; }
}
