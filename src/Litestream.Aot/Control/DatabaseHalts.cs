using Litestream.Replication;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace Litestream.Aot.Control;

/// <summary>
/// <c>POST /halt</c> and <c>POST /unhalt</c> (LiteFS's HALT lock): a halt takes the database's write lock on a
/// connection of its own (<c>BEGIN IMMEDIATE</c>, held until unhalted), so the application's writers wait on their
/// busy timeout instead of failing, then syncs until every replica holds what was committed before it. A halt is
/// released on its own after its timeout, so a client that died while holding one cannot stop the application for
/// good. One halt per database at a time; the holder names it by the id the halt answered with.
/// </summary>
internal sealed class DatabaseHalts(ReplicationDaemon daemon, ILogger logger) : IDisposable
{
    /// <summary>How long a halt waits for the application's write transaction to end.</summary>
    internal static readonly TimeSpan LockWait = TimeSpan.FromSeconds(30);

    /// <summary>The longest a halt may be held (a client asking for more gets this).</summary>
    internal static readonly TimeSpan MaxTimeout = TimeSpan.FromMinutes(10);

    /// <summary>A halt's timeout when the request names none.</summary>
    internal static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    private sealed class Held(string path, string id, SqliteConnection connection, DateTimeOffset expires)
    {
        public string Path { get; } = path;
        public string Id { get; } = id;
        public SqliteConnection Connection { get; } = connection;
        public DateTimeOffset Expires { get; } = expires;
        public Timer? Expiry { get; set; }
    }

    private readonly Lock _lock = new();
    // A path maps to null while its halt is being taken, so a second halt is refused rather than queued on SQLite.
    private readonly Dictionary<string, Held?> _held = new(StringComparer.Ordinal);

    /// <summary>
    /// Takes the write lock of <paramref name="path"/> and syncs every replica; the halt is released after
    /// <paramref name="timeout"/> unless unhalted first.
    /// </summary>
    /// <exception cref="ControlException">404 unknown database, 409 not open or halted already, 503 the lock stayed busy, 500 the sync failed.</exception>
    public async Task<HaltResponse> HaltAsync(string path, TimeSpan timeout, CancellationToken cancellationToken)
    {
        (_, bool running, Replica? replica) = daemon.Databases().FirstOrDefault(d => d.Path == path);
        if (replica is null)
        {
            throw new ControlException(404, $"database not found: {path}");
        }
        if (!running || !replica.Db.IsOpen)
        {
            throw new ControlException(409, $"database not open: {path}");
        }
        lock (_lock)
        {
            if (_held.TryGetValue(path, out Held? other))
            {
                throw new ControlException(409, other is null ? $"database {path} is being halted by another client" : $"database {path} is halted until {LitestreamJsonContext.FormatTime(other.Expires)}");
            }
            _held[path] = null;
        }
        SqliteConnection? connection = null;
        try
        {
            Db db = replica.Db;
            connection = await Task.Run(() => db.TryLockWrites(LockWait, cancellationToken), cancellationToken).ConfigureAwait(false)
                ?? throw new ControlException(503, $"database {path} stayed locked by another writer for {GoDuration.Format(LockWait)}; try again");
            // Everything committed before the lock is in the WAL: the replicas must hold it before the halt is answered.
            SyncResponse synced = await daemon.SyncAsync(path, wait: true, LockWait, cancellationToken).ConfigureAwait(false);
            TimeSpan held = timeout <= TimeSpan.Zero ? DefaultTimeout : timeout > MaxTimeout ? MaxTimeout : timeout;
            var halt = new Held(path, Guid.NewGuid().ToString("N"), connection, DateTimeOffset.UtcNow + held);
            lock (_lock)
            {
                _held[path] = halt;
                halt.Expiry = new Timer(_ => Expire(halt), null, held, Timeout.InfiniteTimeSpan);
            }
            connection = null;
            return new HaltResponse(path, halt.Id, synced.Txid, LitestreamJsonContext.FormatTime(halt.Expires));
        }
        finally
        {
            if (connection is not null)
            {
                Close(connection);
            }
            lock (_lock)
            {
                if (_held.TryGetValue(path, out Held? h) && h is null)
                {
                    _held.Remove(path);
                }
            }
        }
    }

    /// <summary>Releases the halt <paramref name="id"/> of <paramref name="path"/>: its transaction is rolled back, the application writes again.</summary>
    /// <exception cref="ControlException">404 the database is not halted (never, or the halt expired), 409 it is halted under another id.</exception>
    public UnhaltResponse Unhalt(string path, string? id)
    {
        Held halt = Take(path, id);
        Close(halt.Connection);
        return new UnhaltResponse("unhalted", path, daemon.Txid(path));
    }

    /// <summary>
    /// Applies a replica node's transaction (POST /forward) inside the halt <paramref name="id"/> holds: the pages go in
    /// through <c>sqlite_dbpage</c> in the halt's write transaction, which then commits; the halt is released and every
    /// replica synced. The pages were made on a copy at <paramref name="expected"/>: if the database is at another TXID
    /// nothing is applied (409) and the halt is kept. Page 1 keeps the database's own read/write version bytes (a
    /// follower copy may be in rollback-journal mode; the database stays in WAL mode). A failure while applying rolls
    /// everything back and releases the halt.
    /// </summary>
    public async Task<ForwardResponse> ForwardAsync(string path, string? id, ulong expected, uint commit, IReadOnlyList<ForwardPage> pages, CancellationToken cancellationToken)
    {
        Held halt;
        lock (_lock)
        {
            if (!_held.TryGetValue(path, out Held? h) || h is null)
            {
                throw new ControlException(404, $"database not halted: {path}");
            }
            if (h.Id != id)
            {
                throw new ControlException(409, $"database {path} is halted by another client (halt id does not match)");
            }
            halt = h;
        }
        ulong txid = daemon.Txid(path);
        if (txid != expected)
        {
            throw new ControlException(409, $"page set made at txid {expected:x16} but {path} is at txid {txid:x16}: nothing applied");
        }
        halt = Take(path, id);
        try
        {
            Apply(halt.Connection, commit, pages);
        }
        catch (Exception e) when (e is SqliteException or ControlException)
        {
            Close(halt.Connection);
            throw e as ControlException ?? new ControlException(400, $"forwarded pages not applied (nothing was): {e.Message}");
        }
        halt.Connection.Dispose();
        SyncResponse synced = await daemon.SyncAsync(path, wait: true, LockWait, cancellationToken).ConfigureAwait(false);
        return new ForwardResponse("applied", path, synced.Txid);
    }

    private static void Apply(SqliteConnection connection, uint commit, IReadOnlyList<ForwardPage> pages)
    {
        using (SqliteCommand size = connection.CreateCommand())
        {
            size.CommandText = "PRAGMA page_count";
            long current = (long)size.ExecuteScalar()!;
            if (commit < current)
            {
                throw new ControlException(400, $"forwarded transaction shrinks the database from {current} to {commit} pages: not supported, nothing applied");
            }
        }
        byte[]? header = null;
        using SqliteCommand write = connection.CreateCommand();
        write.CommandText = "INSERT INTO sqlite_dbpage(pgno, data) VALUES ($pgno, $data)";
        SqliteParameter pgno = write.Parameters.Add("$pgno", SqliteType.Integer);
        SqliteParameter data = write.Parameters.Add("$data", SqliteType.Blob);
        foreach (ForwardPage page in pages)
        {
            if (page.Pgno == 0 || page.Pgno > commit || page.Data is null)
            {
                throw new ControlException(400, $"forwarded page {page.Pgno} is outside 1..{commit} or has no data: nothing applied");
            }
            byte[] content = page.Data;
            if (page.Pgno == 1)
            {
                header ??= PageOne(connection);
                if (content.Length != header.Length)
                {
                    throw new ControlException(400, $"forwarded page 1 is {content.Length} bytes, the database's pages {header.Length}: nothing applied");
                }
                // Offsets 18 and 19: file format write/read version (2 = WAL). The database keeps its journal mode.
                content[18] = header[18];
                content[19] = header[19];
            }
            pgno.Value = (long)page.Pgno;
            data.Value = content;
            write.ExecuteNonQuery();
        }
        using SqliteCommand done = connection.CreateCommand();
        done.CommandText = "COMMIT";
        done.ExecuteNonQuery();
    }

    private static byte[] PageOne(SqliteConnection connection)
    {
        using SqliteCommand read = connection.CreateCommand();
        read.CommandText = "SELECT data FROM sqlite_dbpage WHERE pgno = 1";
        return (byte[])read.ExecuteScalar()!;
    }

    /// <summary>Releases every halt (the daemon is stopping).</summary>
    public void Dispose()
    {
        List<Held> all;
        lock (_lock)
        {
            all = [.. _held.Values.OfType<Held>()];
            _held.Clear();
        }
        foreach (Held halt in all)
        {
            halt.Expiry?.Dispose();
            Close(halt.Connection);
        }
    }

    private Held Take(string path, string? id)
    {
        lock (_lock)
        {
            if (!_held.TryGetValue(path, out Held? halt) || halt is null)
            {
                throw new ControlException(404, $"database not halted: {path}");
            }
            if (halt.Id != id)
            {
                throw new ControlException(409, $"database {path} is halted by another client (halt id does not match)");
            }
            _held.Remove(path);
            halt.Expiry?.Dispose();
            return halt;
        }
    }

    private void Expire(Held halt)
    {
        lock (_lock)
        {
            if (!_held.TryGetValue(halt.Path, out Held? current) || !ReferenceEquals(current, halt))
            {
                return;
            }
            _held.Remove(halt.Path);
            halt.Expiry?.Dispose();
        }
        Close(halt.Connection);
        logger.Log(LogLevel.Warning, default, $"{halt.Path}: halt {halt.Id} released: held past its timeout", null, static (s, _) => s);
    }

    private static void Close(SqliteConnection connection)
    {
        try
        {
            _ = SQLitePCL.raw.sqlite3_exec(connection.Handle!, "ROLLBACK");
        }
        finally
        {
            connection.Dispose();
        }
    }
}
