using System.CommandLine;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Litestream.Aot.Control;

namespace Litestream.Aot.Cli;

/// <summary>
/// <c>litestream events [-db PATH] [-socket PATH] [-json]</c>: prints the running daemon's event stream
/// (<c>GET /events</c>, see <see cref="EventStream"/>) until SIGINT/SIGTERM (exit 0). The stream ending otherwise
/// (the daemon stopped, the connection broke) is an error: a watcher must not mistake it for quiet.
/// </summary>
internal static class EventsCommand
{
    /// <summary>A line longer than this is not the daemon's (its lines are a few hundred bytes).</summary>
    private const int MaxLine = 64 * 1024;

    public static Command Build()
    {
        Option<string?> db = CommonOptions.Create<string?>("db", "only this database's events");
        Option<string?> socket = CommonOptions.Create<string?>("socket", $"control socket path (default {ControlCommands.DefaultSocket})");
        Option<bool> json = CommonOptions.Create<bool>("json", "print the stream's raw JSON lines");
        var command = new DocumentedCommand("events", "print the running daemon's replication events as they happen",
            "Subscribes to the running replicate daemon's event stream over its control socket (GET /events, LiteFS's "
            + "newline-delimited JSON) and prints one line per event until stopped with Ctrl-C: first init for each database "
            + "(the TXID its replica holds, whether this daemon is its primary, the lease holder), then tx for every "
            + "transaction once the replica confirmed its upload, primaryChange when a lease is taken, lost or released, and "
            + "error for a failed sync or upload. A subscriber that does not keep up is dropped with an error line. It exits "
            + "non-zero when the daemon stops or cannot be reached. The daemon serves the socket when its config has "
            + "socket: {enabled: true}.",
            new("watch every database", "litestream events"),
            new("watch one database and print the raw JSON lines", "litestream events -json -db /var/lib/app.db"))
        {
            db, socket, json,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            string? path = result.GetValue(db) is { } p ? Path.GetFullPath(p) : null;
            return await RunAsync(result.GetValue(socket) ?? ControlCommands.DefaultSocket, path, result.GetValue(json), cancellationToken).ConfigureAwait(false);
        });
        return command;
    }

    private static async Task<int> RunAsync(string socketPath, string? db, bool json, CancellationToken cancellationToken)
    {
        using HttpClient client = ControlCommands.SocketClient(socketPath, Timeout.InfiniteTimeSpan);
        string route = db is null ? "/events" : "/events?db=" + Uri.EscapeDataString(db);
        HttpResponseMessage response;
        using (var answered = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            answered.CancelAfter(BoundedHttpServer.IoTimeout);
            try
            {
                response = await client.GetAsync("http://localhost" + route, HttpCompletionOption.ResponseHeadersRead, answered.Token).ConfigureAwait(false);
            }
            catch (HttpRequestException e) when (e.InnerException is SocketException socketError)
            {
                throw ControlCommands.ConnectFailed(socketPath, socketError);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return Program.ExitOk;
            }
            catch (OperationCanceledException)
            {
                throw new CommandException($"events failed: no answer from {socketPath} within {GoDuration.Format(BoundedHttpServer.IoTimeout)}", "check the daemon's log");
            }
        }
        using (response)
        {
            if (response.StatusCode != HttpStatusCode.OK)
            {
                throw ControlCommands.Refused("events", response.StatusCode, await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false));
            }
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), Encoding.UTF8);
            try
            {
                while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
                {
                    if (line.Length > MaxLine)
                    {
                        throw new CommandException($"events failed: a line of {line.Length} bytes from {socketPath} is not an event", "is the socket a litestream daemon's?");
                    }
                    Console.Out.WriteLine(json ? line : Format(line));
                    Console.Out.Flush();
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return Program.ExitOk;
            }
            catch (Exception e) when (e is IOException or HttpRequestException && !cancellationToken.IsCancellationRequested)
            {
                throw new CommandException($"events failed: the connection to {socketPath} broke: {e.Message}", "the daemon may have stopped: check its log, then run 'litestream events' again");
            }
        }
        if (cancellationToken.IsCancellationRequested)
        {
            return Program.ExitOk;
        }
        throw new CommandException($"events failed: the daemon at {socketPath} ended the stream (it stopped, or dropped this subscriber)", "check the daemon's log, then run 'litestream events' again");
    }

    /// <summary>One event as a line of text: its type, database, then its fields as key=value.</summary>
    internal static string Format(string line)
    {
        EventLine? e;
        try
        {
            e = JsonSerializer.Deserialize(line, LitestreamJsonContext.Wire.EventLine);
        }
        catch (JsonException)
        {
            e = null;
        }
        if (e is null)
        {
            return line;
        }
        var text = new StringBuilder(e.Type);
        if (e.Db is { } db)
        {
            text.Append(' ').Append(db);
        }
        EventData d = e.Data;
        Field(text, "txid", d.TxId);
        Field(text, "timestamp", d.Timestamp);
        Field(text, "size", d.Size?.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Field(text, "primary", d.IsPrimary is { } primary ? (primary ? "true" : "false") : null);
        Field(text, "host", d.Hostname);
        Field(text, "pid", d.Pid?.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Field(text, "generation", d.Generation?.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (d.Message is { } message)
        {
            text.Append(e.Type == "error" ? ": " : " reason: ").Append(message);
        }
        return text.ToString();
    }

    private static void Field(StringBuilder text, string name, string? value)
    {
        if (value is not null)
        {
            text.Append(' ').Append(name).Append('=').Append(value);
        }
    }
}
