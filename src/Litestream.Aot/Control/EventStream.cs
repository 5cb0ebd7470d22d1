using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Litestream.Events;
using Litestream.Ltx;
using Litestream.Replication;
using Litestream.Storage;

namespace Litestream.Aot.Control;

/// <summary>
/// One line of <c>GET /events</c>, in LiteFS's shape (<c>{"type":…,"db":…,"data":{…}}</c>, litefs-go's <c>Event</c>):
/// <c>init</c> (per database: the TXID its replica holds, whether this process is its primary and the lease holder),
/// <c>tx</c>, <c>primaryChange</c> and <c>error</c>.
/// </summary>
internal sealed record EventLine(
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("db"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Db,
    [property: JsonPropertyName("data")] EventData Data);

/// <summary>An event's data; only the fields its type has are written.</summary>
internal sealed record EventData
{
    /// <summary>init, tx: the TXID (16 hex digits, as LiteFS's <c>txID</c>).</summary>
    [JsonPropertyName("txID"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? TxId { get; init; }

    /// <summary>tx: when the primary captured it (RFC 3339).</summary>
    [JsonPropertyName("timestamp"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Timestamp { get; init; }

    /// <summary>tx: bytes of its LTX file on the replica.</summary>
    [JsonPropertyName("size"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public long? Size { get; init; }

    /// <summary>init, primaryChange: whether this process replicates the database (holds its lease, if it has one).</summary>
    [JsonPropertyName("isPrimary"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public bool? IsPrimary { get; init; }

    /// <summary>init, primaryChange: the lease holder's host (LiteFS's <c>hostname</c>).</summary>
    [JsonPropertyName("hostname"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Hostname { get; init; }

    [JsonPropertyName("pid"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? Pid { get; init; }

    /// <summary>The lease generation (the NodeID of the LTX files uploaded under it).</summary>
    [JsonPropertyName("generation"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public long? Generation { get; init; }

    /// <summary>error: what failed; primaryChange: why the lease was lost or released.</summary>
    [JsonPropertyName("message"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Message { get; init; }
}

/// <summary>
/// Serves <c>GET /events[?db=PATH]</c>: newline-delimited JSON, streamed, one <see cref="EventLine"/> per line. The
/// subscription to the store comes first and the <c>init</c> lines after, so nothing falls between them (a
/// <c>tx</c> the init already counts is skipped). At most <see cref="MaxSubscribers"/> at once (each holds one of
/// the server's connections), each buffering <see cref="Capacity"/> events: a client that does not read is dropped
/// with a last <c>error</c> line, and replication never waits for it.
/// </summary>
internal sealed class EventStream(ReplicationDaemon daemon)
{
    /// <summary>Subscribers at once: half the server's connections, so commands still get through.</summary>
    internal const int MaxSubscribers = BoundedHttpServer.MaxConnections / 2;

    /// <summary>Events buffered per subscriber before it is dropped.</summary>
    internal const int Capacity = 1024;

    private int _subscribers;

    /// <summary>The answer to <c>GET /events</c>; <paramref name="db"/> (already a full path) narrows it to one database.</summary>
    public HttpAnswer Answer(string? db)
    {
        if (db is not null && !daemon.Databases().Any(d => d.Path == db))
        {
            throw new ControlException(404, $"database not found: {db}");
        }
        if (Interlocked.Increment(ref _subscribers) > MaxSubscribers)
        {
            Interlocked.Decrement(ref _subscribers);
            throw new ControlException(503, $"too many event subscribers (at most {MaxSubscribers})");
        }
        ReplicationEventSubscription subscription;
        try
        {
            subscription = daemon.SubscribeEvents(Capacity);
        }
        catch
        {
            Interlocked.Decrement(ref _subscribers);
            throw;
        }
        return new HttpAnswer(200, [], "application/x-ndjson", (stream, token) => StreamAsync(subscription, db, stream, token));
    }

    private async Task StreamAsync(ReplicationEventSubscription subscription, string? db, Stream stream, CancellationToken cancellationToken)
    {
        // The line being written: a stop that cancels its write must not lose it (the drain sends it first).
        string? pending = null;
        try
        {
            var known = new Dictionary<string, Txid>(StringComparer.Ordinal);
            var init = new StringBuilder();
            foreach ((string path, bool running, Replica? replica) in daemon.Databases())
            {
                if (db is null || path == db)
                {
                    Txid txid = replica?.RemoteTxid ?? Txid.Zero;
                    known[path] = txid;
                    init.Append(Line(Init(path, running, replica, txid)));
                }
            }
            await WriteAsync(stream, init.ToString(), cancellationToken).ConfigureAwait(false);
            while (await subscription.ReadAsync(cancellationToken).ConfigureAwait(false) is { } e)
            {
                if ((db is not null && e.Db.Length > 0 && e.Db != db)
                    || (e.Kind == ReplicationEventKind.Tx && known.TryGetValue(e.Db, out Txid at) && e.Txid <= at))
                {
                    continue;
                }
                pending = Line(ToLine(e));
                await WriteAsync(stream, pending, cancellationToken).ConfigureAwait(false);
                pending = null;
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The daemon is stopping (or the client went away): what was published before (a lost lease that ends
            // the daemon) still goes out, briefly.
            await DrainAsync(subscription, db, pending, stream).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException)
        {
            // The client went away or did not take a line in time.
        }
        finally
        {
            subscription.Dispose();
            Interlocked.Decrement(ref _subscribers);
        }
    }

    private static async Task DrainAsync(ReplicationEventSubscription subscription, string? db, string? pending, Stream stream)
    {
        var left = new StringBuilder(pending);
        while (subscription.TryRead(out ReplicationEvent? e))
        {
            if (db is null || e.Db.Length == 0 || e.Db == db)
            {
                left.Append(Line(ToLine(e)));
            }
        }
        if (left.Length == 0)
        {
            return;
        }
        try
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            await stream.WriteAsync(Encoding.UTF8.GetBytes(left.ToString()), deadline.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException)
        {
        }
    }

    private static EventLine Init(string path, bool running, Replica? replica, Txid txid)
    {
        bool primary = running && (replica?.Lease is not { } lease || lease.IsHeld);
        bool leased = primary && replica?.Lease is not null;
        return new EventLine("init", path, new EventData
        {
            TxId = txid.ToString(),
            IsPrimary = primary,
            Hostname = leased ? Environment.MachineName : null,
            Pid = leased ? Environment.ProcessId : null,
            Generation = leased ? replica!.Lease!.Generation : null,
        });
    }

    /// <summary>
    /// <paramref name="e"/> as one line of the stream (with its newline), for other printers of engine events
    /// (<c>restore -f -json</c>): one format for every event a user reads.
    /// </summary>
    internal static string Format(ReplicationEvent e) => Line(ToLine(e));

    /// <summary>The <c>init</c> line of a follower copy: the TXID it holds; it is never a primary.</summary>
    internal static string FollowerInit(string path, Txid txid) => Line(new EventLine("init", path, new EventData { TxId = txid.ToString(), IsPrimary = false }));

    private static EventLine ToLine(ReplicationEvent e) => e.Kind switch
    {
        ReplicationEventKind.Tx => new EventLine("tx", e.Db, new EventData { TxId = e.Txid.ToString(), Timestamp = LitestreamJsonContext.FormatTime(e.Timestamp), Size = e.Size }),
        ReplicationEventKind.PrimaryChange => new EventLine("primaryChange", e.Db, new EventData
        {
            IsPrimary = e.IsPrimary,
            Hostname = e.Host,
            Pid = e.Pid,
            Generation = e.Generation,
            Message = e.Message,
        }),
        _ => new EventLine("error", e.Db.Length > 0 ? e.Db : null, new EventData { Message = e.Message }),
    };

    /// <summary>One JSON line, with no credential in it.</summary>
    private static string Line(EventLine line) => Redaction.Apply(JsonSerializer.Serialize(line, LitestreamJsonContext.Wire.EventLine)) + "\n";

    private static async Task WriteAsync(Stream stream, string text, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(BoundedHttpServer.IoTimeout);
        await stream.WriteAsync(Encoding.UTF8.GetBytes(text), deadline.Token).ConfigureAwait(false);
        await stream.FlushAsync(deadline.Token).ConfigureAwait(false);
    }
}
