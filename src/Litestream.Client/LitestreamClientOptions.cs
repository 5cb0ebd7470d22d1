namespace Litestream.Client;

/// <summary>Where a <see cref="LitestreamClient"/> finds the daemon's control API.</summary>
public sealed class LitestreamClientOptions
{
    /// <summary>The Unix control socket (<c>socket.path</c>), used when <see cref="Address"/> is null. Upstream's default.</summary>
    public string SocketPath { get; set; } = "/var/run/litestream.sock";

    /// <summary>The daemon's TCP control API (<c>socket.addr</c>), e.g. <c>http://10.0.0.5:9091</c>; needs <see cref="Token"/>.</summary>
    public Uri? Address { get; set; }

    /// <summary>The bearer token (<c>socket.token</c>) sent with every request over TCP.</summary>
    public string? Token { get; set; }

    /// <summary>
    /// On a replica node: the primary's database path → this node's follower copy of it (kept current by
    /// <c>litestream restore -f -o COPY</c>). <see cref="LitestreamClient.WithHaltAsync"/> on such a path forwards the
    /// write to the primary instead of writing locally.
    /// </summary>
    public IDictionary<string, string> FollowerCopies { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>How long one request may take (halts wait for the application's write transaction and a sync).</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(60);
}
