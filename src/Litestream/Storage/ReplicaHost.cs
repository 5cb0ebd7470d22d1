using System.Globalization;

namespace Litestream.Storage;

/// <summary>
/// A network backend's <c>host</c> key: <c>host</c>, <c>host:port</c>, <c>[v6]</c> or <c>[v6]:port</c> (a bare IPv6
/// address has several colons and no port), for the backends that dial a server themselves (sftp, nats).
/// </summary>
internal static class ReplicaHost
{
    /// <summary>The host and port of <paramref name="host"/>, <paramref name="defaultPort"/> when it names none.</summary>
    /// <exception cref="ArgumentException">A port that is not 1-65535, or text after a bracketed address that is no port.</exception>
    public static (string Host, int Port) Split(string host, int defaultPort, string backend)
    {
        if (host.StartsWith('['))
        {
            int close = host.IndexOf(']', StringComparison.Ordinal);
            if (close > 0)
            {
                string address = host[1..close];
                return close + 1 == host.Length ? (address, defaultPort)
                    : host[close + 1] == ':' ? (address, ParsePort(host[(close + 2)..], host, backend))
                    : throw new ArgumentException($"{backend} host \"{host}\" is not host[:port]");
            }
        }
        int colon = host.LastIndexOf(':');
        return colon > 0 && host.IndexOf(':') == colon ? (host[..colon], ParsePort(host[(colon + 1)..], host, backend)) : (host, defaultPort);
    }

    /// <summary><c>host:port</c>, an IPv6 address in brackets, for messages and URLs.</summary>
    public static string Format(string host, int port)
        => host.Contains(':', StringComparison.Ordinal) ? $"[{host}]:{port.ToString(CultureInfo.InvariantCulture)}" : $"{host}:{port.ToString(CultureInfo.InvariantCulture)}";

    private static int ParsePort(string text, string host, string backend)
        => int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int port) && port is > 0 and < 65536
            ? port
            : throw new ArgumentException($"{backend} host \"{host}\" has no valid port (1-65535)");
}
