using System.Text.Json;
using System.Text.Json.Serialization;

namespace Litestream.Aot.Mcp;

/// <summary>A JSON-RPC 2.0 result (MCP's message envelope); <see cref="Id"/> echoes the request's.</summary>
internal sealed record JsonRpcResult<T>(
    [property: JsonPropertyName("id")] JsonElement Id,
    [property: JsonPropertyName("result")] T Result)
{
    [JsonPropertyName("jsonrpc")]
    public string JsonRpc => "2.0";
}

/// <summary>A JSON-RPC 2.0 error; <see cref="Id"/> is null when the request's could not be read.</summary>
internal sealed record JsonRpcErrorResponse(
    [property: JsonPropertyName("id")] JsonElement? Id,
    [property: JsonPropertyName("error")] JsonRpcError Error)
{
    [JsonPropertyName("jsonrpc")]
    public string JsonRpc => "2.0";
}

internal sealed record JsonRpcError(
    [property: JsonPropertyName("code")] int Code,
    [property: JsonPropertyName("message")] string Message);

/// <summary>The answer to <c>initialize</c>.</summary>
internal sealed record InitializeResult(
    [property: JsonPropertyName("protocolVersion")] string ProtocolVersion,
    [property: JsonPropertyName("capabilities")] ServerCapabilities Capabilities,
    [property: JsonPropertyName("serverInfo")] ServerInfo ServerInfo);

internal sealed record ServerCapabilities([property: JsonPropertyName("tools")] ToolsCapability Tools);

internal sealed record ToolsCapability([property: JsonPropertyName("listChanged")] bool ListChanged);

internal sealed record ServerInfo(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("version")] string Version);

/// <summary>The answer to <c>ping</c>: an empty object.</summary>
internal sealed record EmptyResult;

/// <summary>The answer to <c>tools/list</c>.</summary>
internal sealed record ToolsListResult([property: JsonPropertyName("tools")] IReadOnlyList<ToolDefinition> Tools);

internal sealed record ToolDefinition(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("description")] string Description,
    [property: JsonPropertyName("inputSchema")] InputSchema InputSchema);

/// <summary>A tool's arguments as JSON Schema: an object of string and boolean properties.</summary>
internal sealed record InputSchema(
    [property: JsonPropertyName("properties")] Dictionary<string, PropertySchema> Properties,
    [property: JsonPropertyName("required"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<string>? Required)
{
    [JsonPropertyName("type")]
    public string Type => "object";
}

internal sealed record PropertySchema(
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("description")] string Description);

/// <summary>The answer to <c>tools/call</c>: the command's output as text; <see cref="IsError"/> when it failed.</summary>
internal sealed record ToolCallResult(
    [property: JsonPropertyName("content")] IReadOnlyList<TextContent> Content,
    [property: JsonPropertyName("isError")] bool IsError);

internal sealed record TextContent([property: JsonPropertyName("text")] string Text)
{
    [JsonPropertyName("type")]
    public string Type => "text";
}
