using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using Litestream.Aot.Cli;
using Litestream.Aot.Control;
using Litestream.Aot.Mcp;
using Litestream.Aot.Monitoring;

namespace Litestream.Aot;

/// <summary>
/// Source-generated JSON (no reflection) for everything the exe reads or writes. The types only say what is
/// written; how (indentation, escaping) is the instance each call site picks, so every output stays as it was:
/// <see cref="JsonSerializerContext"/>'s generated <c>Default</c> (compact, the BCL's escaping) for MCP answers,
/// <see cref="Indented"/> for the CLI's <c>-json</c> outputs (<c>ltx</c>, <c>databases</c>, <c>status</c>,
/// <c>restore</c>, <c>lag</c>) and the monitoring endpoints, <see cref="Wire"/> for the control socket and its
/// event stream, <see cref="WireIndented"/> for what the CLI prints of a control reply.
/// </summary>
// CLI -json outputs.
[JsonSerializable(typeof(List<LtxFileRow>))]
[JsonSerializable(typeof(List<DatabaseRow>))]
[JsonSerializable(typeof(List<DbStatusRow>))]
[JsonSerializable(typeof(RestoreSummary))]
[JsonSerializable(typeof(LagReport))]
// Monitoring endpoints.
[JsonSerializable(typeof(SyncStatusResponse))]
[JsonSerializable(typeof(HealthResponse))]
// MCP answers.
[JsonSerializable(typeof(JsonRpcResult<InitializeResult>))]
[JsonSerializable(typeof(JsonRpcResult<EmptyResult>))]
[JsonSerializable(typeof(JsonRpcResult<ToolsListResult>))]
[JsonSerializable(typeof(JsonRpcResult<ToolCallResult>))]
[JsonSerializable(typeof(JsonRpcErrorResponse))]
// The control protocol, its event stream and the CLI's results of control commands.
[JsonSerializable(typeof(PathTimeoutRequest))]
[JsonSerializable(typeof(StartStopResponse))]
[JsonSerializable(typeof(SyncRequest))]
[JsonSerializable(typeof(SyncResponse))]
[JsonSerializable(typeof(RegisterRequest))]
[JsonSerializable(typeof(RegisterResponse))]
[JsonSerializable(typeof(UnregisterResponse))]
[JsonSerializable(typeof(TxidResponse))]
[JsonSerializable(typeof(ListResponse))]
[JsonSerializable(typeof(InfoResponse))]
[JsonSerializable(typeof(ErrorResponse))]
[JsonSerializable(typeof(StartStopResult))]
[JsonSerializable(typeof(RegisterResult))]
[JsonSerializable(typeof(UnregisterResult))]
[JsonSerializable(typeof(EventLine))]
[JsonSerializable(typeof(HaltRequest))]
[JsonSerializable(typeof(HaltResponse))]
[JsonSerializable(typeof(UnhaltRequest))]
[JsonSerializable(typeof(UnhaltResponse))]
[JsonSerializable(typeof(LagResponse))]
[JsonSerializable(typeof(ForwardRequest))]
[JsonSerializable(typeof(ForwardResponse))]
internal sealed partial class LitestreamJsonContext : JsonSerializerContext
{
    /// <summary>Indented by two spaces, with the BCL's escaping (non-ASCII, '+', '&lt;' ... as \uXXXX).</summary>
    public static LitestreamJsonContext Indented { get; } = new(new JsonSerializerOptions { WriteIndented = true });

    /// <summary>Compact, for the control socket (Go's encoder: no escaping of '+' or non-ASCII).</summary>
    public static LitestreamJsonContext Wire { get; } = new(new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });

    /// <summary>Indented by two spaces with Go's escaping, as Go's <c>json.MarshalIndent(v, "", "  ")</c> that upstream's CLI prints.</summary>
    public static LitestreamJsonContext WireIndented { get; } = new(new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, WriteIndented = true });

    /// <summary>A time as Go marshals <c>time.Time</c> (RFC 3339 with trailing fractional zeros trimmed), in UTC.</summary>
    public static string FormatTime(DateTimeOffset time)
        => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture);
}
