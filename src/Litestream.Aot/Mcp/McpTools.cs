using System.Text;
using System.Text.Json;
using Litestream.Storage;

namespace Litestream.Aot.Mcp;

/// <summary>A tool call the agent got wrong (a missing or mistyped argument): its result is an error, not a crash.</summary>
internal sealed class ToolArgumentException(string message) : Exception(message);

/// <summary>
/// Upstream's seven MCP tools (cmd/litestream/mcp.go), same names, descriptions and arguments, each running the CLI
/// command it wraps (<see cref="SelfCommand"/>) with the config <c>replicate</c> was started with unless the call
/// names another. Deliberate differences: a boolean flag is passed as <c>-flag</c> (upstream's <c>-flag true</c> makes
/// Go's flag parser take <c>true</c> as the database path), and <c>litestream_restore</c> is confined to the directory
/// it is given (<see cref="CheckRestoreOutput"/>).
/// </summary>
internal sealed class McpTools(string? configPath)
{
    private static readonly PropertySchema s_config = new("string", "Path to the Litestream config file. Optional.");

    public static IReadOnlyList<ToolDefinition> Definitions { get; } =
    [
        Tool("litestream_info", "Get a comprehensive summary of Litestream's current status including databases, LTX files, and version information.",
            [("config", s_config)]),
        Tool("litestream_databases", "List databases and their replicas as defined in the Litestream config file. The default path is /etc/litestream.yml but is not required.",
            [("config", s_config)]),
        Tool("litestream_restore", "Restore a database from a Litestream replica.",
            [
                ("path", new("string", "Database path or replica URL.")),
                ("o", new("string", "Output path for the restored database. Optional.")),
                ("config", s_config),
                ("txid", new("string", "Restore up to a specific transaction ID. Optional.")),
                ("timestamp", new("string", "Restore to a specific point-in-time (RFC3339). Optional.")),
                ("parallelism", new("string", "Number of WAL files to download in parallel. Optional.")),
                ("if_db_not_exists", new("boolean", "Return 0 if the database already exists. Optional.")),
                ("if_replica_exists", new("boolean", "Return 0 if no backups found. Optional.")),
            ], required: ["path"]),
        Tool("litestream_ltx", "List all LTX files for a database or replica URL.",
            [
                ("path", new("string", "Database path or replica URL.")),
                ("config", new("string", "Path to the Litestream config file. Optional, ignored for replica URLs.")),
            ], required: ["path"]),
        Tool("litestream_version", "Print the Litestream binary version.", []),
        Tool("litestream_status", "Display replication status including database path, status, local transaction ID, and WAL size.",
            [("config", s_config), ("path", new("string", "Filter to a specific database path. Optional."))]),
        Tool("litestream_reset", "Clear local Litestream state for a database. Removes local LTX files, forcing fresh snapshot on next sync. Database file is not modified.",
            [("path", new("string", "Database path to reset.")), ("config", s_config)], required: ["path"]),
    ];

    /// <summary>Whether <paramref name="name"/> is one of the tools.</summary>
    public static bool Exists(string name) => Definitions.Any(t => t.Name == name);

    /// <summary>Runs tool <paramref name="name"/>: its output, and whether it failed.</summary>
    public async Task<ToolCallResult> CallAsync(string name, JsonElement arguments, CancellationToken cancellationToken)
    {
        try
        {
            var args = new ToolArguments(arguments);
            if (name == "litestream_info")
            {
                return await InfoAsync(args, cancellationToken).ConfigureAwait(false);
            }
            List<string> command = name switch
            {
                "litestream_databases" => ["databases", .. Config(args)],
                "litestream_restore" => Restore(args),
                "litestream_ltx" => ["ltx", .. ConfigUnlessUrl(args, args.RequiredString("path")), args.RequiredString("path")],
                "litestream_version" => ["version"],
                "litestream_status" => ["status", .. Config(args), .. Optional(args.String("path"))],
                "litestream_reset" => ["reset", .. Config(args), args.RequiredString("path")],
                _ => throw new ToolArgumentException($"unknown tool {name}"),
            };
            CommandOutput output = await SelfCommand.RunAsync(command, cancellationToken).ConfigureAwait(false);
            return output.ExitCode == 0 ? Text(output.Output, isError: false) : Failed(output);
        }
        catch (ToolArgumentException e)
        {
            return Text(e.Message, isError: true);
        }
    }

    /// <summary>
    /// The output <c>o</c> of a restore must name a file in a directory that exists (or, for a <c>dir:</c> entry, that
    /// directory), without <c>..</c>: the restore then writes only there (its temp file beside the output, renamed
    /// over nothing: <c>-force</c> is never passed), and never creates directories elsewhere.
    /// </summary>
    internal static void CheckRestoreOutput(string output)
    {
        if (output.Length == 0 || output.Contains('\0', StringComparison.Ordinal))
        {
            throw new ToolArgumentException("o must be a file path");
        }
        if (output.Split('/').Contains(".."))
        {
            throw new ToolArgumentException($"o must not contain '..': {output}");
        }
        string full = Path.GetFullPath(output);
        if (Directory.Exists(full))
        {
            return;
        }
        string? directory = Path.GetDirectoryName(full);
        if (directory is null || !Directory.Exists(directory))
        {
            throw new ToolArgumentException($"o must be in an existing directory: {directory ?? full} does not exist");
        }
    }

    private async Task<ToolCallResult> InfoAsync(ToolArguments args, CancellationToken cancellationToken)
    {
        var summary = new StringBuilder("=== Litestream Status Report ===\n\n");
        CommandOutput version = await SelfCommand.RunAsync(["version"], cancellationToken).ConfigureAwait(false);
        if (version.ExitCode != 0)
        {
            return Text("Failed to get version info: " + SelfCommand.Describe(version), isError: true);
        }
        summary.Append("Version Information:\n").Append(version.Output).Append('\n');
        List<string> config = Config(args);
        summary.Append("Current Config Path:\n").Append(config.Count > 0 ? config[1] : "").Append("\n\n");
        CommandOutput databases = await SelfCommand.RunAsync(["databases", .. config], cancellationToken).ConfigureAwait(false);
        if (databases.ExitCode != 0)
        {
            return Text("Failed to get databases info: " + databases.Output.Trim() + ": " + SelfCommand.Describe(databases), isError: true);
        }
        summary.Append("Databases:\n").Append(databases.Output).Append('\n');
        // The paths from -json: upstream splits the text table on spaces, which breaks on a path with one.
        CommandOutput json = await SelfCommand.RunAsync(["databases", "-json", .. config], cancellationToken).ConfigureAwait(false);
        summary.Append("LTX Files:\n");
        foreach (string path in DatabasePaths(json.Output))
        {
            CommandOutput ltx = await SelfCommand.RunAsync(["ltx", .. config, path], cancellationToken).ConfigureAwait(false);
            summary.Append(ltx.ExitCode == 0 ? $"Database: {path}\n{ltx.Output}\n" : $"Failed to get LTX files for {path}: {SelfCommand.Describe(ltx)}\n{ltx.Output}");
        }
        return Text(summary.ToString(), isError: false);
    }

    private List<string> Restore(ToolArguments args)
    {
        string path = args.RequiredString("path");
        var command = new List<string> { "restore" };
        if (args.String("o") is { } output)
        {
            CheckRestoreOutput(output);
            command.AddRange(["-o", output]);
        }
        command.AddRange(ConfigUnlessUrl(args, path));
        foreach (string flag in (ReadOnlySpan<string>)["txid", "timestamp", "parallelism"])
        {
            if (args.String(flag) is { } value)
            {
                command.AddRange(["-" + flag, value]);
            }
        }
        if (args.Bool("if_db_not_exists"))
        {
            command.Add("-if-db-not-exists");
        }
        if (args.Bool("if_replica_exists"))
        {
            command.Add("-if-replica-exists");
        }
        command.Add(path);
        return command;
    }

    /// <summary><c>-config PATH</c>: the call's, else the one <c>replicate</c> runs with; nothing in ad hoc mode.</summary>
    private List<string> Config(ToolArguments args)
        => (args.String("config") ?? configPath) is { Length: > 0 } config ? ["-config", config] : [];

    /// <summary>The CLI refuses <c>-config</c> with a replica URL, so it is left out then (as upstream).</summary>
    private List<string> ConfigUnlessUrl(ToolArguments args, string path) => ReplicaUrl.IsUrl(path) ? [] : Config(args);

    private static List<string> Optional(string? value) => value is null ? [] : [value];

    private static IEnumerable<string> DatabasePaths(string json)
    {
        try
        {
            using JsonDocument document = JsonDocument.Parse(json);
            return [.. document.RootElement.EnumerateArray().Select(row => row.GetProperty("path").GetString() ?? "")];
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException)
        {
            return [];
        }
    }

    private static ToolCallResult Failed(CommandOutput output) => Text(output.Output.Trim() + ": " + SelfCommand.Describe(output), isError: true);

    private static ToolCallResult Text(string text, bool isError) => new([new TextContent(text)], isError);

    private static ToolDefinition Tool(string name, string description, (string Name, PropertySchema Schema)[] properties, string[]? required = null)
        => new(name, description, new InputSchema(properties.ToDictionary(p => p.Name, p => p.Schema), required));

    /// <summary>A call's <c>arguments</c> object, read as mcp-go's <c>RequireString</c>/<c>RequireBool</c> read it.</summary>
    private readonly struct ToolArguments(JsonElement arguments)
    {
        /// <summary>The string argument; null when absent (or JSON null).</summary>
        public string? String(string name)
        {
            if (!TryGet(name, out JsonElement value))
            {
                return null;
            }
            return value.ValueKind == JsonValueKind.String ? value.GetString() : throw new ToolArgumentException($"argument {name} must be a string");
        }

        public string RequiredString(string name)
            => String(name) is { Length: > 0 } value ? value : throw new ToolArgumentException($"required argument \"{name}\" not found");

        public bool Bool(string name)
        {
            if (!TryGet(name, out JsonElement value))
            {
                return false;
            }
            return value.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw new ToolArgumentException($"argument {name} must be a boolean"),
            };
        }

        private bool TryGet(string name, out JsonElement value)
        {
            value = default;
            return arguments.ValueKind == JsonValueKind.Object && arguments.TryGetProperty(name, out value) && value.ValueKind != JsonValueKind.Null;
        }
    }
}
