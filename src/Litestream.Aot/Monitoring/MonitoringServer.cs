using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
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
    /// Listens on <paramref name="addr"/> (see <see cref="TcpListen.Bind"/>) and serves <paramref name="exporter"/>'s
    /// metrics and <paramref name="daemon"/>'s databases.
    /// </summary>
    /// <exception cref="CommandException">The address is malformed, cannot be resolved, or cannot be bound (port in use).</exception>
    public static MonitoringServer Start(string addr, PrometheusExporter exporter, ReplicationDaemon daemon, ILogger logger)
    {
        (Socket listener, string shown) = TcpListen.Bind(addr, "addr");
        var server = new MonitoringServer(listener, exporter, daemon, logger);
        logger.Log(LogLevel.Information, default, $"serving metrics on http://{shown}/metrics", null, static (s, _) => s);
        return server;
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();

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
        => new(status, Encoding.UTF8.GetBytes(JsonSerializer.Serialize(body, LitestreamJsonContext.Indented.SyncStatusResponse) + "\n"), JsonType);

    private static HttpAnswer Json(int status, HealthResponse body)
        => new(status, Encoding.UTF8.GetBytes(JsonSerializer.Serialize(body, LitestreamJsonContext.Indented.HealthResponse) + "\n"), JsonType);

    private static HttpAnswer Text(int status, string body) => new(status, Encoding.UTF8.GetBytes(body), TextType);
}
