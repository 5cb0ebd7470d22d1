using System.CommandLine;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Litestream.Aot.Control;

namespace Litestream.Aot.Cli;

/// <summary>
/// Upstream's control-socket clients (start, stop, sync, register, unregister, info, list): HTTP over the
/// running <c>replicate</c> daemon's Unix socket (<c>-socket PATH</c>), with upstream's flags, defaults and
/// output. One file for all seven because they share everything but their flags and how they print.
/// </summary>
internal static class ControlCommands
{
    public const string DefaultSocket = "/var/run/litestream.sock";

    private const string SocketSentence = "The daemon serves the socket when its config has socket: {enabled: true}; -socket "
        + "names it when it is not " + DefaultSocket + ".";

    public static IEnumerable<Command> Build()
    {
        yield return StartStop(new DocumentedCommand("start", "start replication of a database on the running daemon",
            "Asks the running replicate daemon, over its control socket, to resume replicating a database that stop paused. "
            + SocketSentence,
            new("resume a database", "litestream start /var/lib/app.db"),
            new("resume it through another socket and print JSON", "litestream start -socket /run/litestream.sock -json /var/lib/app.db")), "running");
        yield return StartStop(new DocumentedCommand("stop", "stop replication of a database on the running daemon (waits for its final sync)",
            "Asks the running replicate daemon, over its control socket, to pause replicating a database: it makes a final "
            + "sync first and answers when that is done, so the replica holds every commit made before the call. start "
            + "resumes it. " + SocketSentence,
            new("pause a database after a final sync", "litestream stop /var/lib/app.db"),
            new("allow a slow final sync a minute", "litestream stop -timeout 60 /var/lib/app.db")), "stopped");
        yield return Sync();
        yield return Register();
        yield return Unregister();
        yield return Info();
        yield return List();
    }

    private static Command StartStop(DocumentedCommand documented, string state)
    {
        string name = documented.Name;
        var (command, path, socket, timeout) = Create(documented, dbPath: true, defaultTimeout: 30);
        Option<bool> json = CommonOptions.Json();
        command.Options.Add(json);
        command.SetAction(async (result, cancellationToken) =>
        {
            string db = Path.GetFullPath(result.GetValue(path)!);
            string socketPath = result.GetValue(socket) ?? DefaultSocket;
            StartStopResponse response = await CallAsync(name, socketPath, result.GetValue(timeout), HttpMethod.Post, "/" + name,
                new PathTimeoutRequest(db, result.GetValue(timeout)), LitestreamJsonContext.Wire.PathTimeoutRequest, LitestreamJsonContext.Wire.StartStopResponse, cancellationToken).ConfigureAwait(false);
            var printed = new StartStopResult(response.Path, state, response.Txid, socketPath);
            Print(result.GetValue(json), printed, LitestreamJsonContext.WireIndented.StartStopResult,
                $"db_path: {printed.DbPath}", $"state: {printed.State}", $"txid: {printed.Txid}", $"socket: {printed.Socket}");
            return Program.ExitOk;
        });
        return command;
    }

    private static Command Sync()
    {
        var (command, path, socket, timeout) = Create(new DocumentedCommand("sync", "sync a database now on the running daemon",
            "Asks the running replicate daemon, over its control socket, to capture a database's latest commits and "
            + "upload them now instead of at its next interval, and prints the database's and the replica's TXIDs. With "
            + "-wait it answers only when the replica holds what the database had committed at the call, and exits "
            + "non-zero if it does not (a durability point for scripts). " + SocketSentence,
            new("start a sync now", "litestream sync /var/lib/app.db"),
            new("return only when the replica holds every commit made so far", "litestream sync -wait /var/lib/app.db")), dbPath: true, defaultTimeout: 30);
        Option<bool> wait = CommonOptions.Create<bool>("wait", "block until the sync reached the replica");
        command.Options.Add(wait);
        command.SetAction(async (result, cancellationToken) =>
        {
            string db = Path.GetFullPath(result.GetValue(path)!);
            SyncResponse response = await CallAsync("sync", result.GetValue(socket) ?? DefaultSocket, result.GetValue(timeout), HttpMethod.Post, "/sync",
                new SyncRequest(db, result.GetValue(wait), result.GetValue(timeout)), LitestreamJsonContext.Wire.SyncRequest, LitestreamJsonContext.Wire.SyncResponse, cancellationToken).ConfigureAwait(false);
            Console.WriteLine(JsonSerializer.Serialize(response, LitestreamJsonContext.WireIndented.SyncResponse));
            if (result.GetValue(wait) && response.ReplicatedTxid < response.Txid)
            {
                // A daemon that answers -wait before the replica caught up (upstream's did) must not read as success.
                throw new CommandException($"sync failed: the replica holds txid {response.ReplicatedTxid}, the database is at {response.Txid}", "run 'litestream sync -wait' again, or check the daemon's log for upload errors");
            }
            return Program.ExitOk;
        });
        return command;
    }

    private static Command Register()
    {
        var (command, path, socket, timeout) = Create(new DocumentedCommand("register", "add a database to the running daemon",
            "Asks the running replicate daemon, over its control socket, to replicate one more database to the replica "
            + "URL -replica names, with the config's defaults, without a restart. It lasts until the daemon stops: add the "
            + "database to the config file to keep it. " + SocketSentence,
            new("replicate another database to S3", "litestream register -replica s3://mybucket/new.db /var/lib/new.db"),
            new("replicate it to a local directory", "litestream register -replica file:///var/backups/new.db /var/lib/new.db")), dbPath: true, defaultTimeout: 30);
        Option<string?> replica = CommonOptions.Create<string?>("replica", "replica URL (required), e.g. s3://bucket/prefix or file:///backup/path");
        Option<bool> json = CommonOptions.Json();
        command.Options.Add(replica);
        command.Options.Add(json);
        command.SetAction(async (result, cancellationToken) =>
        {
            string url = result.GetValue(replica) ?? throw new UsageException("-replica is required", "litestream register -replica s3://bucket/prefix /path/to/db");
            ReplicaTarget.CheckUrlArgument(url);
            string db = Path.GetFullPath(result.GetValue(path)!);
            string socketPath = result.GetValue(socket) ?? DefaultSocket;
            RegisterResponse response = await CallAsync("register", socketPath, result.GetValue(timeout), HttpMethod.Post, "/register",
                new RegisterRequest(db, url), LitestreamJsonContext.Wire.RegisterRequest, LitestreamJsonContext.Wire.RegisterResponse, cancellationToken).ConfigureAwait(false);
            var printed = new RegisterResult(response.Status, response.Path, url, socketPath);
            Print(result.GetValue(json), printed, LitestreamJsonContext.WireIndented.RegisterResult,
                $"status: {(printed.Status == "already_registered" ? "already registered" : printed.Status)}", $"db_path: {printed.DbPath}", $"replica: {printed.Replica}", $"socket: {printed.Socket}");
            return Program.ExitOk;
        });
        return command;
    }

    private static Command Unregister()
    {
        var (command, path, socket, timeout) = Create(new DocumentedCommand("unregister", "remove a database from the running daemon (after its final sync)",
            "Asks the running replicate daemon, over its control socket, to stop replicating a database and forget it: "
            + "it makes a final sync first and prints the TXID the replica ends at. A database in the config comes back "
            + "when the daemon restarts. -dry-run prints what would be asked and sends nothing. " + SocketSentence,
            new("remove a database after its final sync", "litestream unregister /var/lib/app.db"),
            new("show what would be asked, send nothing", "litestream unregister -dry-run /var/lib/app.db")), dbPath: true, defaultTimeout: 30);
        Option<bool> dryRun = CommonOptions.Create<bool>("dry-run", "show what would be removed, send nothing");
        Option<bool> json = CommonOptions.Json();
        command.Options.Add(dryRun);
        command.Options.Add(json);
        command.SetAction(async (result, cancellationToken) =>
        {
            string db = Path.GetFullPath(result.GetValue(path)!);
            string socketPath = result.GetValue(socket) ?? DefaultSocket;
            int seconds = result.GetValue(timeout);
            if (result.GetValue(dryRun))
            {
                Console.Write(string.Join('\n',
                    "Dry run: unregister request preview",
                    $"  database: {db}",
                    $"  socket: {socketPath}",
                    "  replicas: daemon-managed replica for this database",
                    "  final sync: daemon close will sync the database and replica before the command completes",
                    $"  timeout: {seconds}s",
                    "No unregister request was sent.",
                    ""));
                return Program.ExitOk;
            }
            UnregisterResponse response = await CallAsync("unregister", socketPath, seconds, HttpMethod.Post, "/unregister",
                new PathTimeoutRequest(db, seconds), LitestreamJsonContext.Wire.PathTimeoutRequest, LitestreamJsonContext.Wire.UnregisterResponse, cancellationToken).ConfigureAwait(false);
            var printed = new UnregisterResult(response.Status, response.Path, response.Txid, socketPath);
            Print(result.GetValue(json), printed, LitestreamJsonContext.WireIndented.UnregisterResult,
                $"status: {printed.Status}", $"db_path: {printed.DbPath}", $"final_txid: {printed.FinalTxid}", $"socket: {printed.Socket}");
            return Program.ExitOk;
        });
        return command;
    }

    private static Command Info()
    {
        var (command, _, socket, timeout) = Create(new DocumentedCommand("info", "show the running daemon's version, pid, uptime and database count",
            "Asks the running replicate daemon, over its control socket, for its version, process id, uptime and number of "
            + "databases, and prints them as JSON: a quick check that the daemon is up and which one answers. " + SocketSentence,
            new("check the daemon", "litestream info"),
            new("check a daemon on another socket", "litestream info -socket /run/litestream.sock")), dbPath: false, defaultTimeout: 10);
        command.SetAction(async (result, cancellationToken) =>
        {
            InfoResponse response = await CallAsync("info", result.GetValue(socket) ?? DefaultSocket, result.GetValue(timeout), HttpMethod.Get, "/info",
                null, LitestreamJsonContext.Wire.ErrorResponse, LitestreamJsonContext.Wire.InfoResponse, cancellationToken).ConfigureAwait(false);
            Console.WriteLine(JsonSerializer.Serialize(response, LitestreamJsonContext.WireIndented.InfoResponse));
            return Program.ExitOk;
        });
        return command;
    }

    private static Command List()
    {
        var (command, _, socket, timeout) = Create(new DocumentedCommand("list", "list the databases of the running daemon",
            "Asks the running replicate daemon, over its control socket, for the databases it replicates (from the config "
            + "and registered since), each with its state and the time of its last sync. " + SocketSentence,
            new("list the daemon's databases", "litestream list"),
            new("list them as JSON", "litestream list -json")), dbPath: false, defaultTimeout: 10);
        Option<bool> json = CommonOptions.Json();
        command.Options.Add(json);
        command.SetAction(async (result, cancellationToken) =>
        {
            ListResponse response = await CallAsync("list", result.GetValue(socket) ?? DefaultSocket, result.GetValue(timeout), HttpMethod.Get, "/list",
                null, LitestreamJsonContext.Wire.ErrorResponse, LitestreamJsonContext.Wire.ListResponse, cancellationToken).ConfigureAwait(false);
            if (result.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(response, LitestreamJsonContext.WireIndented.ListResponse));
            }
            else if (response.Databases.Count == 0)
            {
                Console.WriteLine("No databases configured");
            }
            else
            {
                foreach (DatabaseSummary db in response.Databases)
                {
                    // Upstream formats the time as RFC 3339 to the second.
                    string lastSync = db.LastSyncAt is { } at ? DateTimeOffset.Parse(at, System.Globalization.CultureInfo.InvariantCulture).ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture) : "never";
                    Console.WriteLine($"{db.Path} [{db.Status}] (last sync: {lastSync})");
                    // Several replicas (ours): one indented line each, so the failing one is named.
                    foreach (ReplicaSummary r in db.Replicas is { Count: > 1 } replicas ? replicas : [])
                    {
                        Console.WriteLine($"  replica {r.Name} ({r.Type}) [{r.State}] txid {new Ltx.Txid(r.Txid)}, {r.TxidsBehind} behind{(r.LastError is { } e ? ": " + e : "")}");
                    }
                }
            }
            return Program.ExitOk;
        });
        return command;
    }

    private static (Command Command, Argument<string> Path, Option<string?> Socket, Option<int> Timeout) Create(DocumentedCommand command, bool dbPath, int defaultTimeout)
    {
        var path = new Argument<string>("path") { Description = "database path", HelpName = "DB_PATH" };
        if (dbPath)
        {
            command.Arguments.Add(path);
        }
        Option<string?> socket = CommonOptions.Create<string?>("socket", $"control socket path (default {DefaultSocket})");
        Option<int> timeout = CommonOptions.CreateInt("timeout", $"seconds to wait for the daemon (default {defaultTimeout})", defaultValue: defaultTimeout, minimum: 1);
        command.Options.Add(socket);
        command.Options.Add(timeout);
        return (command, path, socket, timeout);
    }

    private static void Print<T>(bool json, T value, JsonTypeInfo<T> type, params string[] lines)
        => Console.WriteLine(json ? JsonSerializer.Serialize(value, type) : string.Join('\n', lines));

    /// <summary>One request to the daemon; connection failures and error replies become one error line and a hint.</summary>
    private static async Task<TResponse> CallAsync<TRequest, TResponse>(string command, string socketPath, int timeoutSeconds, HttpMethod method, string route,
        TRequest? request, JsonTypeInfo<TRequest> requestType, JsonTypeInfo<TResponse> responseType, CancellationToken cancellationToken)
    {
        using HttpClient client = SocketClient(socketPath, TimeSpan.FromSeconds(timeoutSeconds));
        using var message = new HttpRequestMessage(method, "http://localhost" + route);
        if (request is not null)
        {
            message.Content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(request, requestType));
            message.Content.Headers.ContentType = new("application/json");
        }
        HttpResponseMessage response;
        try
        {
            response = await client.SendAsync(message, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e) when (e.InnerException is SocketException socketError)
        {
            throw ConnectFailed(socketPath, socketError);
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new CommandException($"{command} failed: no answer from {socketPath} within {timeoutSeconds}s", "raise -timeout, or check the daemon's log");
        }
        using (response)
        {
            byte[] body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                throw Refused(command, response.StatusCode, body);
            }
            return TryParse(body, responseType) ?? throw new CommandException($"{command} failed: unexpected reply from {socketPath}: {Encoding.UTF8.GetString(body).Trim()}");
        }
    }

    /// <summary>An HTTP client whose every connection goes to the Unix socket <paramref name="socketPath"/> (disposing it closes them).</summary>
    internal static HttpClient SocketClient(string socketPath, TimeSpan timeout)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, token) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), token).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
            UseProxy = false,
        };
        return new HttpClient(handler, disposeHandler: true) { Timeout = timeout };
    }

    /// <summary>The daemon is not there: one line naming the socket and why, and a hint.</summary>
    internal static CommandException ConnectFailed(string socketPath, SocketException e)
        => new($"failed to connect to control socket {socketPath}: {Describe(e)}",
            "is 'litestream replicate' running with socket: {enabled: true, path: " + socketPath + "} in its config? pass -socket PATH for another socket");

    /// <summary>The daemon refused the request: its error message and a hint for the status.</summary>
    internal static CommandException Refused(string command, HttpStatusCode status, byte[] body)
    {
        string error = TryParse(body, LitestreamJsonContext.Wire.ErrorResponse)?.Error is { Length: > 0 } text ? text : Encoding.UTF8.GetString(body).Trim();
        return new CommandException($"{command} failed: {error}", Hint(status));
    }

    private static string? Hint(HttpStatusCode status) => status switch
    {
        HttpStatusCode.BadRequest => "check the database path and the replica URL",
        HttpStatusCode.NotFound => "'litestream list' shows the databases the daemon knows; 'litestream register' adds one",
        HttpStatusCode.Conflict => "the database is stopped or not open yet; 'litestream start DB_PATH' resumes it",
        HttpStatusCode.ServiceUnavailable => "the daemon is serving too many control connections; try again",
        HttpStatusCode.Locked => "one process replicates a database: stop the other one first, or leave the database to it",
        _ => null,
    };

    private static string Describe(SocketException e) => e.SocketErrorCode switch
    {
        SocketError.AddressNotAvailable or SocketError.AddressFamilyNotSupported => "no such file or directory",
        SocketError.ConnectionRefused => "connection refused",
        SocketError.AccessDenied => "permission denied",
        _ => e.Message.ToLowerInvariant(),
    };

    private static T? TryParse<T>(byte[] body, JsonTypeInfo<T> type)
    {
        try
        {
            return JsonSerializer.Deserialize(body, type);
        }
        catch (JsonException)
        {
            return default;
        }
    }
}
