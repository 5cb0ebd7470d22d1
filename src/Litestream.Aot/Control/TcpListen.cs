using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Litestream.Aot.Control;

/// <summary>
/// A listening TCP socket for a <c>host:port</c> config key (<c>addr</c>, <c>mcp-addr</c>): parsed and resolved as
/// Go's net package does for upstream, with one <c>error:</c> line and a hint when it cannot be bound.
/// </summary>
internal static class TcpListen
{
    /// <summary>
    /// Binds and listens on <paramref name="addr"/> (<c>host:port</c>, <c>:port</c> for every interface,
    /// <c>[::1]:port</c>); <paramref name="key"/> names the config key in errors. Returns the socket and the address
    /// to show in logs (<c>localhost:PORT</c> for every interface; the port the system chose for port 0).
    /// </summary>
    /// <exception cref="CommandException">The address is malformed, cannot be resolved, or cannot be bound (port in use).</exception>
    public static (Socket Listener, string Shown) Bind(string addr, string key)
    {
        (string host, int port) = ParseAddr(addr);
        IPEndPoint endpoint = Resolve(host, port, addr);
        var listener = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (endpoint.Address.Equals(IPAddress.IPv6Any))
            {
                listener.DualMode = true;
            }
            listener.Bind(endpoint);
            listener.Listen(128);
        }
        catch (SocketException e)
        {
            listener.Dispose();
            throw new CommandException(
                $"cannot listen on {key} {addr}: {e.Message}",
                e.SocketErrorCode == SocketError.AddressAlreadyInUse ? $"another process uses the port: stop it, or set another {key} in the config" : $"set {key} to host:port, e.g. 127.0.0.1:9090");
        }
        int bound = ((IPEndPoint)listener.LocalEndPoint!).Port;
        string shown = host.Length == 0 ? $"localhost:{bound}" : $"{(host.Contains(':', StringComparison.Ordinal) ? $"[{host}]" : host)}:{bound}";
        return (listener, shown);
    }

    /// <summary>Splits <c>host:port</c> as Go's <c>net.SplitHostPort</c> does; a missing port is upstream's error.</summary>
    internal static (string Host, int Port) ParseAddr(string addr)
    {
        int colon = addr.LastIndexOf(':');
        string host = colon < 0 ? addr : addr[..colon];
        string portText = colon < 0 ? "" : addr[(colon + 1)..];
        if (host.StartsWith('[') && host.EndsWith(']'))
        {
            host = host[1..^1];
        }
        else if (host.Contains(':', StringComparison.Ordinal))
        {
            throw new CommandException($"invalid bind address {addr}: too many colons", "write an IPv6 address in brackets: [::1]:9090");
        }
        if (portText.Length == 0)
        {
            throw new CommandException($"must specify port for bind address: \"{addr}\"", "set addr to host:port, e.g. 127.0.0.1:9090");
        }
        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port > IPEndPoint.MaxPort)
        {
            throw new CommandException($"invalid port in bind address: \"{addr}\"", "the port is a number from 0 to 65535");
        }
        return (host, port);
    }

    private static IPEndPoint Resolve(string host, int port, string addr)
    {
        if (host.Length == 0)
        {
            return new IPEndPoint(Socket.OSSupportsIPv6 ? IPAddress.IPv6Any : IPAddress.Any, port);
        }
        if (IPAddress.TryParse(host, out IPAddress? address))
        {
            return new IPEndPoint(address, port);
        }
        try
        {
            // Go listens on the first address a name resolves to; IPv4 first, as its resolver orders them.
            IPAddress[] addresses = Dns.GetHostAddresses(host);
            IPAddress first = Array.Find(addresses, a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses[0];
            return new IPEndPoint(first, port);
        }
        catch (Exception e) when (e is SocketException or IndexOutOfRangeException)
        {
            throw new CommandException($"cannot resolve bind address {addr}: {e.Message}", "use an IP address, e.g. 127.0.0.1:9090");
        }
    }
}
