using System.Text;
using System.Text.Json;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using static Litestream.Aot.Tests.Cli.MonitoringTests;

namespace Litestream.Aot.Tests.Cli;

/// <summary>
/// <c>mcp-addr</c> on the published exe running <c>replicate</c> with a real database: the official MCP SDK's client
/// (Streamable HTTP) lists upstream's seven tools and calls each; the restore tool stays in the directory it is
/// given; the endpoint answers bad requests with JSON-RPC errors and bounded sizes.
/// </summary>
[Requires(Need.Exe, Need.Python)]
public class McpTests
{
    private static readonly string[] s_tools =
        ["litestream_info", "litestream_databases", "litestream_restore", "litestream_ltx", "litestream_version", "litestream_status", "litestream_reset"];

    [RequiresFact]
    public async Task Mcp_SdkClient_ListsAndCallsUpstreamsSevenTools()
    {
        (string dir, string db, int port, BackgroundProcess daemon) = StartReplicating();
        using (daemon)
        {
            await using McpClient client = await Connect(port);
            Assert.Equal(("Litestream MCP Server", "1.0.0"), (client.ServerInfo?.Name, client.ServerInfo?.Version));
            IList<McpClientTool> tools = await client.ListToolsAsync();
            Assert.Equal(s_tools, tools.Select(t => t.Name));
            JsonElement restoreSchema = tools.Single(t => t.Name == "litestream_restore").JsonSchema;
            Assert.Equal(["path", "o", "config", "txid", "timestamp", "parallelism", "if_db_not_exists", "if_replica_exists"],
                restoreSchema.GetProperty("properties").EnumerateObject().Select(p => p.Name));
            Assert.Equal("boolean", restoreSchema.GetProperty("properties").GetProperty("if_db_not_exists").GetProperty("type").GetString());
            Assert.Equal(["path"], restoreSchema.GetProperty("required").EnumerateArray().Select(e => e.GetString()));

            Assert.Equal((false, Exe.Run("version").Output), await Call(client, "litestream_version"));
            (bool failed, string databases) = await Call(client, "litestream_databases");
            Assert.False(failed, databases);
            Assert.Equal(Exe.Run("databases", "-config", Path.Combine(dir, "c.yml")).Output, databases);
            (failed, string status) = await Call(client, "litestream_status", ("path", db));
            Assert.False(failed, status);
            Assert.Contains(db, status);
            (failed, string ltx) = await Call(client, "litestream_ltx", ("path", db));
            Assert.False(failed, ltx);
            Assert.Matches("(?m)^0 +0000000000000001 ", ltx);
            (failed, string info) = await Call(client, "litestream_info");
            Assert.False(failed, info);
            Assert.StartsWith("=== Litestream Status Report ===\n\nVersion Information:\n" + Exe.Run("version").Output, info);
            Assert.Contains($"Current Config Path:\n{Path.Combine(dir, "c.yml")}\n", info);
            Assert.Contains($"Database: {db}\n", info);

            string output = Path.Combine(dir, "out", "restored.db");
            Directory.CreateDirectory(Path.GetDirectoryName(output)!);
            (failed, string restored) = await Call(client, "litestream_restore", ("path", db), ("o", output));
            Assert.False(failed, restored);
            Assert.StartsWith($"restored {output} to txid ", restored);
            Assert.Equal(SqliteWriter.TextValue(0), SqliteWriter.Scalar(output, "SELECT v FROM t"));
            (failed, restored) = await Call(client, "litestream_restore", ("path", db), ("o", output), ("if_db_not_exists", true));
            Assert.Equal((false, $"database already exists, skipping: {output}\n"), (failed, restored));

            // reset while replicate holds the database: refused by the CLI, reported as a failed tool call.
            (failed, string reset) = await Call(client, "litestream_reset", ("path", db));
            Assert.True(failed, reset);
            Assert.EndsWith(": exit status 1", reset);
            (failed, string missing) = await Call(client, "litestream_ltx");
            Assert.Equal((true, "required argument \"path\" not found"), (failed, missing));
            Assert.Equal(0, daemon.Stop());
        }
    }

    /// <summary>
    /// The restore tool writes only the file <c>o</c> names, in a directory that exists: <c>..</c>, a missing directory
    /// and an existing file are refused, and nothing appears anywhere else in the test's directory.
    /// </summary>
    [RequiresFact]
    public async Task Mcp_RestoreTool_NeverWritesOutsideTheDirectoryItIsGiven()
    {
        (string dir, string db, int port, BackgroundProcess daemon) = StartReplicating();
        using (daemon)
        {
            string target = Path.Combine(dir, "target");
            Directory.CreateDirectory(target);
            string existing = Path.Combine(target, "existing.db");
            File.WriteAllText(existing, "keep me");
            await using McpClient client = await Connect(port);
            string[] before = Tree(dir);

            (bool failed, string answer) = await Call(client, "litestream_restore", ("path", db), ("o", Path.Combine(target, "..", "escaped.db")));
            Assert.Equal((true, $"o must not contain '..': {target}/../escaped.db"), (failed, answer));
            (failed, answer) = await Call(client, "litestream_restore", ("path", db), ("o", Path.Combine(target, "new", "sub", "x.db")));
            Assert.Equal((true, $"o must be in an existing directory: {target}/new/sub does not exist"), (failed, answer));
            (failed, answer) = await Call(client, "litestream_restore", ("path", db), ("o", existing));
            Assert.True(failed, answer);
            Assert.Equal("keep me", File.ReadAllText(existing));
            (failed, answer) = await Call(client, "litestream_restore", ("path", db), ("o", 42));
            Assert.Equal((true, "argument o must be a string"), (failed, answer));
            Assert.Equal(before, Tree(dir));

            (failed, answer) = await Call(client, "litestream_restore", ("path", db), ("o", Path.Combine(target, "ok.db")));
            Assert.False(failed, answer);
            Assert.Equal([.. before.Append(Path.Combine(target, "ok.db")).Order(StringComparer.Ordinal)], Tree(dir));
            Assert.Equal(0, daemon.Stop());
        }
    }

    [RequiresFact]
    public void Mcp_BadRequests_JsonRpcErrorsAndTheServerServesOn()
    {
        (_, _, int port, BackgroundProcess daemon) = StartReplicating();
        using (daemon)
        {
            Assert.Equal((400, -32700), Post(port, "{not json"));
            Assert.Equal((400, -32600), Post(port, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]"));
            Assert.Equal((200, -32601), Post(port, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/list\"}"));
            Assert.Equal((200, -32602), Post(port, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"rm_rf\"}}"));
            Assert.Equal((400, -32700), Post(port, new string('[', 1000) + new string(']', 1000)));
            Assert.Equal("202 Accepted", StatusLine(Raw(port, Request("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}"))));
            Assert.Equal("405 Method Not Allowed", StatusLine(Raw(port, "GET /mcp HTTP/1.1\r\nAccept: text/event-stream\r\n\r\n")));
            Assert.Equal("413 Request Entity Too Large", StatusLine(Raw(port, Request("{\"x\":\"" + new string('a', 100_000) + "\"}"))));
            // What a web page could send without a CORS preflight, and a page of another origin: refused before any tool runs.
            const string reset = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"litestream_reset\",\"arguments\":{\"path\":\"/x.db\"}}}";
            Assert.Equal((415, -32600), Post(port, reset, "Content-Type: text/plain\r\n"));
            Assert.Equal((403, -32600), Post(port, reset, "Content-Type: application/json\r\nOrigin: http://evil.example\r\n"));
            Assert.Equal((200, 0), Post(port, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", "Content-Type: application/json; charset=utf-8\r\nOrigin: http://localhost:6274\r\n"));
            string ping = Raw(port, Request("{\"jsonrpc\":\"2.0\",\"id\":\"p\",\"method\":\"ping\"}"));
            Assert.Equal("200 OK", StatusLine(ping));
            Assert.EndsWith("\r\n\r\n{\"id\":\"p\",\"result\":{},\"jsonrpc\":\"2.0\"}", ping);
            Assert.Equal(0, daemon.Stop());
        }
    }

    private static (string Dir, string Db, int Port, BackgroundProcess Daemon) StartReplicating()
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db"), replica = Path.Combine(dir, "replica");
        SqliteWriter.Write(db, 1);
        int port = LocalServer.FreePort();
        string config = Path.Combine(dir, "c.yml");
        File.WriteAllText(config, $"mcp-addr: 127.0.0.1:{port}\ndbs:\n  - path: {db}\n    replica:\n      url: file://{replica}\n      sync-interval: 100ms\n");
        BackgroundProcess daemon = Exe.Start("replicate", "-config", config);
        Wait.Until(() => Directory.Exists(replica) && Directory.GetFiles(replica, "*.ltx", SearchOption.AllDirectories).Length > 0, "the first upload", daemon);
        Wait.Until(() => daemon.Output.Contains($"serving MCP (Streamable HTTP) on http://127.0.0.1:{port}/"), "the MCP server", daemon);
        return (dir, db, port, daemon);
    }

    private static Task<McpClient> Connect(int port)
        => McpClient.CreateAsync(new HttpClientTransport(new HttpClientTransportOptions
        {
            Endpoint = new Uri($"http://127.0.0.1:{port}/mcp"),
            TransportMode = HttpTransportMode.StreamableHttp,
        }));

    private static async Task<(bool Failed, string Text)> Call(McpClient client, string tool, params (string Name, object Value)[] arguments)
    {
        CallToolResult result = await client.CallToolAsync(tool, arguments.ToDictionary(a => a.Name, a => (object?)a.Value));
        return (result.IsError == true, string.Concat(result.Content.OfType<TextContentBlock>().Select(c => c.Text)));
    }

    /// <summary>POSTs <paramref name="body"/>: the status and the JSON-RPC error code (0 for a result).</summary>
    private static (int Status, int Code) Post(int port, string body, string headers = "Content-Type: application/json\r\n")
    {
        string answer = Raw(port, Request(body, headers));
        using JsonDocument message = JsonDocument.Parse(answer[(answer.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..]);
        int code = message.RootElement.TryGetProperty("error", out JsonElement error) ? error.GetProperty("code").GetInt32() : 0;
        return (int.Parse(StatusLine(answer)[..3]), code);
    }

    private static string Request(string body, string headers = "Content-Type: application/json\r\n")
        => $"POST /mcp HTTP/1.1\r\n{headers}Accept: application/json, text/event-stream\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\n\r\n{body}";

    /// <summary>Every file under <paramref name="dir"/> but those replication itself writes (replica, meta directory, WAL).</summary>
    private static string[] Tree(string dir)
        => [.. Directory.GetFiles(dir, "*", SearchOption.AllDirectories)
            .Where(f => !f.StartsWith(Path.Combine(dir, "replica") + "/", StringComparison.Ordinal) && !f.Contains("-litestream/", StringComparison.Ordinal)
                && !f.EndsWith("-wal", StringComparison.Ordinal) && !f.EndsWith("-shm", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)];
}
