using System.Diagnostics;
using Litestream.Internal;
using Microsoft.Data.Sqlite;
using Microsoft.Win32.SafeHandles;

namespace Litestream.Replication;

/// <summary>
/// The replicator's two connections to one database and the descriptor of its file. One connection holds the long
/// read transaction, so no other process can checkpoint past what has been captured or restart the WAL; the other
/// writes the bookkeeping rows and takes the write barrier around checkpoints. The two swap roles each time the read
/// transaction moves (<see cref="RenewReadLock"/>). Not thread-safe: <see cref="Db"/> calls it under its lock.
/// </summary>
internal sealed class DbConnections : IDisposable
{
    private const int SqliteFcntlPersistWal = 10;
    private const int SqliteDbConfigLookaside = 1001;
    private const int SqliteDbConfigNoCkptOnClose = 1006;
    internal const int SqliteOk = 0;
    internal const int SqliteBusy = 5;
    internal const int SqliteLocked = 6;

    private static int s_openCount;

    private readonly TimeSpan _busyTimeout;

    private DbConnections(SqliteConnection writer, SqliteConnection reader, SafeFileHandle database, uint pageSize, TimeSpan busyTimeout)
    {
        Writer = writer;
        Reader = reader;
        Database = database;
        PageSize = pageSize;
        _busyTimeout = busyTimeout;
    }

    /// <summary>The connection that writes bookkeeping rows and takes the write barrier.</summary>
    public SqliteConnection Writer { get; private set; }

    /// <summary>The connection holding the long read transaction.</summary>
    public SqliteConnection Reader { get; private set; }

    /// <summary>The database file, read for pages the WAL does not hold: <see cref="Db"/>'s, which outlives the connections (see there).</summary>
    public SafeFileHandle Database { get; }

    /// <summary>Connection pairs open in this process: a cheap probe of what idle databases hold.</summary>
    internal static int OpenCount => Volatile.Read(ref s_openCount);

    /// <summary>The database's page size.</summary>
    public uint PageSize { get; }

    /// <summary>
    /// Opens both connections, switches the database to WAL mode, creates the bookkeeping tables and starts the long
    /// read transaction. Nothing stays open when it throws. <paramref name="database"/> stays the caller's.
    /// </summary>
    public static DbConnections Open(string path, TimeSpan busyTimeout, SafeFileHandle database)
    {
        _ = SqliteNative.NoPageCacheBulk();
        SqliteConnection? writer = null, reader = null;
        try
        {
            writer = OpenConnection(path, busyTimeout);
            string mode = ScalarString(writer, "PRAGMA journal_mode = wal");
            if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
            {
                throw new InvalidOperationException($"could not enable wal mode on {path}: journal_mode is {mode}");
            }
            Exec(writer, "CREATE TABLE IF NOT EXISTS _litestream_seq (id INTEGER PRIMARY KEY, seq INTEGER)");
            Exec(writer, "CREATE TABLE IF NOT EXISTS _litestream_lock (id INTEGER)");
            uint pageSize = checked((uint)ScalarLong(writer, "PRAGMA page_size"));
            if (WalMissing(path))
            {
                // A reader that started now would hold slot 0 (see RenewReadLock) until our first checkpoint, and every
                // autocheckpoint of the application past 1000 frames would sort the WAL and give up (~5x a commit's CPU):
                // the row Db writes when there is no WAL is written first, so the reader gets a read mark.
                Exec(writer, SeqRowSql);
            }
            reader = OpenConnection(path, busyTimeout);
            BeginRead(reader);
            Interlocked.Increment(ref s_openCount);
            return new DbConnections(writer, reader, database, pageSize, busyTimeout);
        }
        catch
        {
            if (reader is not null)
            {
                TryExec(reader, "ROLLBACK");
                reader.Dispose();
            }
            writer?.Dispose();
            throw;
        }
    }

    /// <summary>Starts the long read transaction again on <see cref="Reader"/> (after <see cref="EndRead"/>).</summary>
    public void BeginRead() => BeginRead(Reader);

    /// <summary>Ends the long read transaction: until <see cref="BeginRead()"/>, a checkpoint may copy and restart past it.</summary>
    public void EndRead() => Exec(Reader, "ROLLBACK");

    /// <summary>
    /// Moves the long read transaction to the WAL's current end, never letting go of it: the other connection
    /// starts reading before this one stops, and the two swap roles. Called after our own row is written, so the
    /// WAL holds frames no checkpoint has copied yet and SQLite gives the new reader a read mark (slots 1-4).
    /// A reader that starts on a fully checkpointed WAL gets slot 0 instead (it reads the database file alone),
    /// which forbids copying any frame: the application's autocheckpoint then sorts the whole WAL on every
    /// commit and gives up, costing a writer ~4x its CPU until our next checkpoint. A read mark lets it copy
    /// frames up to the mark, cheaply, and still keeps the WAL from being restarted under us.
    /// </summary>
    public void RenewReadLock()
    {
        SqliteConnection reader = Reader, other = Writer;
        BeginRead(other);
        RawExec(reader, "ROLLBACK");
        (Reader, Writer) = (other, reader);
    }

    /// <summary>Bumps the bookkeeping row: a write the replicator makes itself (a WAL to read, a restart after a checkpoint).</summary>
    public void WriteSeqRow() => Exec(Writer, SeqRowSql);

    private const string SeqRowSql = "INSERT INTO _litestream_seq (id, seq) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET seq = seq + 1";

    /// <summary>
    /// True when there is no WAL to read yet (deleted at the application's last close, or truncated): a read
    /// transaction started now reads the database file alone, in SQLite's read slot 0.
    /// </summary>
    private static bool WalMissing(string path)
    {
        FileInfo wal = new(path + "-wal");
        return !wal.Exists || wal.Length < WalHeaderSize;
    }

    private const int WalHeaderSize = 32;

    /// <summary>
    /// Takes the write lock (BEGIN IMMEDIATE on <see cref="Writer"/>) within the busy timeout by trying it over and
    /// over, first between short yields, then every millisecond: a busy application releases it for microseconds
    /// between commits, which SQLite's busy handler (sleeps of 1, 2, 5, 10… ms) mostly sleeps through, and every
    /// commit that lands meanwhile is one more to capture under the barrier. False when it stayed busy. Without
    /// <paramref name="wait"/>, one try.
    /// </summary>
    public bool TryBeginImmediate(bool wait = true) => TryBeginImmediate(Writer, wait ? _busyTimeout : TimeSpan.Zero, _busyTimeout, CancellationToken.None);

    /// <summary>
    /// The retry loop of <see cref="TryBeginImmediate(bool)"/>, on <paramref name="connection"/> for up to <paramref name="wait"/>; its busy
    /// timeout is 0 while it tries and <paramref name="busyAfter"/> after.
    /// </summary>
    private static bool TryBeginImmediate(SqliteConnection connection, TimeSpan wait, TimeSpan busyAfter, CancellationToken cancellationToken)
    {
        SQLitePCL.sqlite3 handle = connection.Handle!;
        long start = Stopwatch.GetTimestamp();
        long deadline = start + (long)(wait.TotalSeconds * Stopwatch.Frequency);
        _ = SQLitePCL.raw.sqlite3_busy_timeout(handle, 0);
        try
        {
            while (true)
            {
                int rc = SQLitePCL.raw.sqlite3_exec(handle, "BEGIN IMMEDIATE");
                if (rc == SqliteOk)
                {
                    return true;
                }
                if (rc is not (SqliteBusy or SqliteLocked))
                {
                    SqliteException.ThrowExceptionForRC(rc, handle);
                }
                if (Stopwatch.GetTimestamp() >= deadline)
                {
                    return false;
                }
                cancellationToken.ThrowIfCancellationRequested();
                Pause(start);
            }
        }
        finally
        {
            _ = SQLitePCL.raw.sqlite3_busy_timeout(handle, (int)busyAfter.TotalMilliseconds);
        }
    }

    /// <summary>
    /// A new connection to <paramref name="path"/> holding its write lock (see <see cref="Db.TryLockWrites"/>), or null
    /// when the lock stayed busy for <paramref name="wait"/>. Closing it does not checkpoint.
    /// </summary>
    public static SqliteConnection? TryOpenWriteLocked(string path, TimeSpan wait, CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWrite, Pooling = false }.ToString());
        try
        {
            connection.Open();
            _ = SQLitePCL.raw.sqlite3_db_config(connection.Handle!, SqliteDbConfigNoCkptOnClose, 1, out _);
            if (TryBeginImmediate(connection, wait, wait, cancellationToken))
            {
                return connection;
            }
        }
        catch
        {
            connection.Dispose();
            throw;
        }
        connection.Dispose();
        return null;
    }

    /// <summary>Ends the write barrier <see cref="TryBeginImmediate(bool)"/> took.</summary>
    public void EndImmediate() => TryExec(Writer, "ROLLBACK");

    /// <summary>Rolls back the read transaction and closes both connections (no checkpoint on close); the file stays open.</summary>
    public void Dispose()
    {
        TryExec(Reader, "ROLLBACK");
        Reader.Dispose();
        Writer.Dispose();
        Interlocked.Decrement(ref s_openCount);
        HeapTrim.TrimSoon(); // what the two connections freed stays in glibc's arenas otherwise
    }

    /// <summary>True for SQLite's busy and locked errors: another connection held the database past the busy timeout, which passes.</summary>
    public static bool IsBusy(Exception e) => e is SqliteException { SqliteErrorCode: SqliteBusy or SqliteLocked };

    /// <summary>Between two tries of a lock the application holds for microseconds at a time: a yield for the first millisecond, then a millisecond's sleep.</summary>
    public static void Pause(long since)
    {
        if (Stopwatch.GetElapsedTime(since) < TimeSpan.FromMilliseconds(1))
        {
            Thread.Yield();
        }
        else
        {
            Thread.Sleep(1);
        }
    }

    /// <summary>Starts a read transaction (it takes its snapshot, and its read mark, at the SELECT).</summary>
    private static void BeginRead(SqliteConnection connection) => RawExec(connection, "BEGIN; SELECT COUNT(1) FROM _litestream_seq");

    /// <summary>Runs SQL straight through SQLite (no managed statement objects): for the few steps whose timing against the application matters.</summary>
    private static void RawExec(SqliteConnection connection, string sql)
    {
        SQLitePCL.sqlite3 handle = connection.Handle!;
        int rc = SQLitePCL.raw.sqlite3_exec(handle, sql);
        if (rc != SqliteOk)
        {
            SqliteException.ThrowExceptionForRC(rc, handle);
        }
    }

    private static SqliteConnection OpenConnection(string path, TimeSpan busyTimeout)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWrite,
            Pooling = false,
            DefaultTimeout = Math.Max(1, (int)busyTimeout.TotalSeconds),
        }.ToString());
        try
        {
            connection.Open();
            // No lookaside: SQLite's default gives every connection ~120 KB up front for small allocations that the few
            // statements of ours never need; a thousand databases opening at start-up held ~240 MB of it.
            _ = SQLitePCL.raw.sqlite3_db_config(connection.Handle!, SqliteDbConfigLookaside, IntPtr.Zero, 0, 0);
            Exec(connection, $"PRAGMA busy_timeout = {(long)busyTimeout.TotalMilliseconds}");
            Exec(connection, "PRAGMA wal_autocheckpoint = 0");
            SQLitePCL.sqlite3 handle = connection.Handle!;
            // Keep the WAL file and its content when our connections close: a restart then continues
            // incrementally instead of snapshotting.
            SQLitePCL.raw.sqlite3_db_config(handle, SqliteDbConfigNoCkptOnClose, 1, out _);
            int persist = 1;
            SqliteNative.FileControl(handle.DangerousGetHandle(), "main", SqliteFcntlPersistWal, ref persist);
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    private static void Exec(SqliteConnection connection, string sql)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static void TryExec(SqliteConnection connection, string sql)
    {
        try
        {
            Exec(connection, sql);
        }
        catch (SqliteException)
        {
            // Rolling back a transaction that is not open is harmless.
        }
    }

    private static long ScalarLong(SqliteConnection connection, string sql)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static string ScalarString(SqliteConnection connection, string sql)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToString(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) ?? "";
    }
}
