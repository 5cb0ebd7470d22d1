using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Litestream.Aot.Control;
using Microsoft.Extensions.Logging;

namespace Litestream.Aot.Mcp;

/// <summary>
/// The MCP server <c>mcp-addr</c> starts in <c>replicate</c> (upstream cmd/litestream/mcp.go, on mark3labs/mcp-go):
/// MCP's Streamable HTTP transport, stateless, on any path. A POST carries one JSON-RPC message; a request
/// (<c>initialize</c>, <c>ping</c>, <c>tools/list</c>, <c>tools/call</c>) is answered with one JSON object, a
/// notification or response with 202. GET (the server-sent event stream) and DELETE (end a session) are 405: the
/// server sends no notifications and keeps no sessions, which the transport allows. The subset is written here rather
/// than on the ModelContextProtocol SDK, whose HTTP server needs ASP.NET Core (see the README). Served by a
/// <see cref="BoundedHttpServer"/>, so requests are bounded in size (64 KiB), time and connections.
/// </summary>
internal sealed class McpServer : IAsyncDisposable
{
    internal const string Name = "Litestream MCP Server";
    internal const string ServerVersion = "1.0.0";

    // Newest first; a client asking for another gets the newest, as the lifecycle spec says, and decides.
    private static readonly string[] s_protocolVersions = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

    private const string JsonType = "application/json";

    private readonly McpTools _tools;
    private readonly ILogger _logger;
    private readonly BoundedHttpServer _server;

    private McpServer(System.Net.Sockets.Socket listener, string? configPath, ILogger logger)
    {
        _tools = new McpTools(configPath);
        _logger = logger;
        _server = new BoundedHttpServer(listener, "MCP server", HandleAsync, static (status, message) => Error(status, null, -32600, message), logger);
    }

    /// <summary>
    /// Listens on <paramref name="addr"/> (see <see cref="TcpListen.Bind"/>); tools run with <paramref name="configPath"/>
    /// unless a call names another config (null: ad hoc mode, the CLI's default).
    /// </summary>
    /// <exception cref="CommandException">The address is malformed, cannot be resolved, or cannot be bound (port in use).</exception>
    public static McpServer Start(string addr, string? configPath, ILogger logger)
    {
        (System.Net.Sockets.Socket listener, string shown) = TcpListen.Bind(addr, "mcp-addr");
        var server = new McpServer(listener, configPath, logger);
        logger.Log(LogLevel.Information, default, $"serving MCP (Streamable HTTP) on http://{shown}/", null, static (s, _) => s);
        return server;
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    private async Task<HttpAnswer> HandleAsync(ControlRequest request, CancellationToken stopping)
    {
        if (request.Method != "POST")
        {
            return Error(405, null, -32600, "method not allowed: POST one JSON-RPC message; this server sends no event stream");
        }
        // A web page must not drive the tools (reset, restore) through the user's browser: a page of another origin
        // is refused (DNS rebinding, as the transport spec asks), and a JSON content type forces the browser's CORS
        // preflight, which this server does not grant, where a text/plain POST would need none.
        if (request.Origin is { } origin && !IsLoopbackOrigin(origin))
        {
            return Error(403, null, -32600, $"origin not allowed: {origin}");
        }
        if (request.ContentType?.Split(';', 2)[0].Trim().Equals(JsonType, StringComparison.OrdinalIgnoreCase) != true)
        {
            return Error(415, null, -32600, "Content-Type must be application/json");
        }
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(request.Body, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            return Error(400, null, -32700, "parse error: " + e.Message);
        }
        using (document)
        {
            JsonElement message = document.RootElement;
            if (message.ValueKind != JsonValueKind.Object)
            {
                return Error(400, null, -32600, "invalid request: one JSON-RPC message object per POST (batches are not supported)");
            }
            bool hasId = message.TryGetProperty("id", out JsonElement id) && id.ValueKind is JsonValueKind.String or JsonValueKind.Number;
            if (!message.TryGetProperty("method", out JsonElement method) || method.ValueKind != JsonValueKind.String)
            {
                // A response to a request of ours (we send none) or garbage: accepted if it has no id to answer.
                return hasId ? Error(400, id.Clone(), -32600, "invalid request: no method") : new HttpAnswer(202, [], JsonType);
            }
            if (!hasId)
            {
                // notifications/initialized, notifications/cancelled, ...: nothing to answer.
                return new HttpAnswer(202, [], JsonType);
            }
            id = id.Clone();
            JsonElement parameters = message.TryGetProperty("params", out JsonElement p) ? p : default;
            return method.GetString() switch
            {
                "initialize" => Result(id, new InitializeResult(Negotiate(parameters), new ServerCapabilities(new ToolsCapability(false)), new ServerInfo(Name, ServerVersion)), LitestreamJsonContext.Default.JsonRpcResultInitializeResult),
                "ping" => Result(id, new EmptyResult(), LitestreamJsonContext.Default.JsonRpcResultEmptyResult),
                "tools/list" => Result(id, new ToolsListResult(McpTools.Definitions), LitestreamJsonContext.Default.JsonRpcResultToolsListResult),
                "tools/call" => await CallAsync(id, parameters, stopping).ConfigureAwait(false),
                var other => Error(200, id, -32601, $"method not found: {other}"),
            };
        }
    }

    private async Task<HttpAnswer> CallAsync(JsonElement id, JsonElement parameters, CancellationToken stopping)
    {
        if (parameters.ValueKind != JsonValueKind.Object || !parameters.TryGetProperty("name", out JsonElement name) || name.ValueKind != JsonValueKind.String)
        {
            return Error(200, id, -32602, "invalid params: tools/call needs a tool name");
        }
        string tool = name.GetString()!;
        if (!McpTools.Exists(tool))
        {
            return Error(200, id, -32602, $"unknown tool: {tool}");
        }
        JsonElement arguments = parameters.TryGetProperty("arguments", out JsonElement a) ? a : default;
        _logger.Log(LogLevel.Debug, default, $"MCP: {tool}", null, static (s, _) => s);
        ToolCallResult result = await _tools.CallAsync(tool, arguments, stopping).ConfigureAwait(false);
        return Result(id, result, LitestreamJsonContext.Default.JsonRpcResultToolCallResult);
    }

    /// <summary>An <c>Origin</c> on this machine: <c>http://localhost:PORT</c>, <c>http://127.0.0.1</c>, <c>http://[::1]</c>.</summary>
    internal static bool IsLoopbackOrigin(string origin)
        => Uri.TryCreate(origin, UriKind.Absolute, out Uri? uri)
            && (uri.Host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || (System.Net.IPAddress.TryParse(uri.Host, out System.Net.IPAddress? address) && System.Net.IPAddress.IsLoopback(address)));

    private static string Negotiate(JsonElement parameters)
        => parameters.ValueKind == JsonValueKind.Object && parameters.TryGetProperty("protocolVersion", out JsonElement asked)
            && asked.ValueKind == JsonValueKind.String && Array.IndexOf(s_protocolVersions, asked.GetString()) >= 0
                ? asked.GetString()!
                : s_protocolVersions[0];

    private static HttpAnswer Result<T>(JsonElement id, T result, JsonTypeInfo<JsonRpcResult<T>> type)
        => new(200, JsonSerializer.SerializeToUtf8Bytes(new JsonRpcResult<T>(id, result), type), JsonType);

    private static HttpAnswer Error(int status, JsonElement? id, int code, string message)
        => new(status, JsonSerializer.SerializeToUtf8Bytes(new JsonRpcErrorResponse(id, new JsonRpcError(code, message)), LitestreamJsonContext.Default.JsonRpcErrorResponse), JsonType);
}
