using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Litestream.Aot.Cli;
using Litestream.Aot.Control;
using Microsoft.Extensions.Logging;

namespace Litestream.Aot.Monitoring;

/// <summary>
/// The HTTP listener <c>addr</c> starts in <c>replicate</c> (upstream serves <c>/metrics</c> there): <c>/metrics</c>
/// (the engine's metrics in Prometheus' text format), <c>/healthz</c> (200 when no database is failing or stalled,
/// else 503 naming them) and <c>/debug/sync-status</c> (each database's local and replica TXID). Served by a
/// <see cref="BoundedHttpServer"/>, as the control socket is. Nothing it answers holds a credential: metric labels
/// are paths and backend types, and errors pass through <see cref="Storage.Redaction"/>.
/// </summary>
internal sealed class MonitoringServer : IAsyncDisposable
{
    private const string JsonType = "application/json";
    private const string TextType = "text/plain; charset=utf-8";

    private readonly PrometheusExporter _exporter;
    private readonly ReplicationDaemon _daemon;
    private readonly BoundedHttpServer _server;

    private MonitoringServer(Socket listener, PrometheusExporter exporter, ReplicationDaemon daemon, ILogger logger)
    {
        _exporter = exporter;
        _daemon = daemon;
        Endpoint = (IPEndPoint)listener.LocalEndPoint!;
        _server = new BoundedHttpServer(listener, "metrics server", HandleAsync, static (status, message) => Text(status, message + "\n"), logger);
    }

    /// <summary>The address and port listened on (the port chosen by the system when <c>addr</c> names port 0).</summary>
    public IPEndPoint Endpoint { get; }

    /// <summary>
    /// Listens on <paramref name="addr"/> (<c>host:port</c>, <c>:port</c> for every interface, <c>[::1]:port</c>) and serves
    /// <paramref name="exporter"/>'s metrics and <paramref name="daemon"/>'s databases.
    /// </summary>
    /// <exception cref="CommandException">The address is malformed, cannot be resolved, or cannot be bound (port in use).</exception>
    public static MonitoringServer Start(string addr, PrometheusExporter exporter, ReplicationDaemon daemon, ILogger logger)
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
                $"cannot listen on addr {addr}: {e.Message}",
                e.SocketErrorCode == SocketError.AddressAlreadyInUse ? "another process uses the port: stop it, or set another addr in the config" : "set addr to host:port, e.g. 127.0.0.1:9090");
        }
        var server = new MonitoringServer(listener, exporter, daemon, logger);
        string shown = host.Length == 0 ? $"localhost:{server.Endpoint.Port}" : $"{(host.Contains(':', StringComparison.Ordinal) ? $"[{host}]" : host)}:{server.Endpoint.Port}";
        logger.Log(LogLevel.Information, default, $"serving metrics on http://{shown}/metrics", null, static (s, _) => s);
        return server;
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();

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

    private Task<HttpAnswer> HandleAsync(ControlRequest request, CancellationToken stopping)
    {
        string route = request.Target.Split('?', 2)[0];
        return Task.FromResult((request.Method, route) switch
        {
            ("GET", "/metrics") => new HttpAnswer(200, Encoding.UTF8.GetBytes(_exporter.Write()), PrometheusExporter.ContentType),
            ("GET", "/healthz") => Health(),
            ("GET", "/debug/sync-status") => Json(200, new SyncStatusResponse(DatabaseSyncStatus.Collect(_daemon))),
            (_, "/metrics" or "/healthz" or "/debug/sync-status") => Text(405, "method not allowed\n"),
            _ => Text(404, "404 page not found\n"),
        });
    }

    private HttpAnswer Health()
    {
        List<DatabaseSyncStatus> failing = DatabaseSyncStatus.Collect(_daemon).FindAll(d => !d.Healthy);
        return failing.Count == 0 ? Json(200, new HealthResponse("ok", null)) : Json(503, new HealthResponse("error", failing));
    }

    private static HttpAnswer Json(int status, SyncStatusResponse body)
        => new(status, Encoding.UTF8.GetBytes(JsonSerializer.Serialize(body, MonitoringJsonContext.Default.SyncStatusResponse) + "\n"), JsonType);

    private static HttpAnswer Json(int status, HealthResponse body)
        => new(status, Encoding.UTF8.GetBytes(JsonSerializer.Serialize(body, MonitoringJsonContext.Default.HealthResponse) + "\n"), JsonType);

    private static HttpAnswer Text(int status, string body) => new(status, Encoding.UTF8.GetBytes(body), TextType);
}
