using System.Buffers;
using System.Diagnostics;
using Litestream.Internal;
using Litestream.Logging;
using Litestream.Ltx;
using Litestream.Ltx.Wal;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Win32.SafeHandles;

namespace Litestream.Replication;

/// <summary>Checkpoint modes the replicator uses (SQLite <c>PRAGMA wal_checkpoint</c>).</summary>
public enum CheckpointMode
{
    /// <summary>Copies what it can without waiting for readers or writers.</summary>
    Passive,
    /// <summary>Copies everything, waits for readers, and truncates the WAL to zero bytes.</summary>
    Truncate,
}

/// <summary>
/// One SQLite database being replicated (upstream <c>DB</c>): its lifecycle (replication lock, open, close, local
/// state) and the lock every step runs under. The parts: <see cref="DbConnections"/> (the two connections and the
/// long read transaction), <see cref="WalCapture"/> (each <see cref="Sync"/> turns the newly committed WAL frames into
/// one L0 LTX file, TXID = previous + 1), <see cref="CheckpointProtocol"/> (checkpoints that lose no commit) and
/// <see cref="WalPageSource"/> (the pages as of the position, for snapshots).
/// </summary>
public sealed class Db : IAsyncDisposable
{
    private const string MetaDirSuffix = "-litestream";
    private const int SqliteNotADatabase = 26;

    private readonly ILogger _logger;
    private readonly DbMetrics _metrics;
    private readonly Lock _lock = new();
    private readonly WalCapture _capture;
    private readonly CheckpointProtocol _checkpoints;
    private DbConnections? _connections;
    // The database file, open from Open to Close whether or not the connections are (see ConnectLocked).
    private SafeFileHandle? _database;
    private (ulong Device, ulong Inode)? _databaseId;
    private volatile bool _opened;
    // When the connections were opened or last captured something: the start of the quiet period (Stopwatch ticks).
    private long _activeAt;
    // Held from the first Open until DisposeAsync (not dropped by a failed open): one replicator per database.
    private ReplicationLock? _replicationLock;
    private bool _replicationLocked;
    // The meta directory did not exist before this Db took the lock, and the database never opened: nothing of
    // value is in it, so closing removes it (a path that is not an SQLite database leaves nothing behind).
    private bool _createdMetaPath;
    private bool _everOpened;
    // The WAL file our connections opened (device, inode): see ReopenIfWalReplaced.
    private (ulong Device, ulong Inode)? _walId;

    /// <summary>Creates the database handle; nothing is opened until <see cref="Open"/>.</summary>
    public Db(string path, DbOptions? options = null, ILogger? logger = null)
    {
        Path = System.IO.Path.GetFullPath(path);
        Options = options ?? new DbOptions();
        _logger = logger ?? NullLogger.Instance;
        _metrics = new DbMetrics(Path);
        Backlog = new LocalBacklog(this);
        _capture = new WalCapture(this, _metrics, _logger);
        _checkpoints = new CheckpointProtocol(this, _capture, _metrics, _logger);
        MetaPath = Options.MetaPath is { } meta
            ? System.IO.Path.GetFullPath(meta)
            : System.IO.Path.Combine(System.IO.Path.GetDirectoryName(Path)!, "." + System.IO.Path.GetFileName(Path) + MetaDirSuffix);
    }

    /// <summary>The replicas a <see cref="Store"/> runs for this database (several since issue 26), in configuration order.</summary>
    public IReadOnlyList<Replica> Replicas => Backlog.Members;

    /// <summary>The replicas and how far back local L0 files are kept for them.</summary>
    internal LocalBacklog Backlog { get; }

    /// <summary>When recent TXIDs were captured: since when a replica that lacks them has not been in sync.</summary>
    internal CaptureTimes Captures { get; } = new();

    /// <summary>Absolute database path.</summary>
    public string Path { get; }

    /// <summary>The WAL file path.</summary>
    public string WalPath => Path + "-wal";

    /// <summary>Directory holding local replication state (staged L0 files).</summary>
    public string MetaPath { get; }

    /// <summary>The settings.</summary>
    public DbOptions Options { get; }

    /// <summary>Database page size (after <see cref="Open"/>).</summary>
    public uint PageSize { get; private set; }

    /// <summary>True once <see cref="Open"/> succeeded.</summary>
    public bool IsOpen => _opened;

    /// <summary>SQLite connections this database holds now: 2 while capturing, 0 once they were let go for being idle.</summary>
    internal int ConnectionCount => Volatile.Read(ref _connections) is null ? 0 : 2;

    /// <summary>Header of the newest local L0 file: the local replication position; null before the first sync.</summary>
    public LtxHeader? Position
    {
        get
        {
            lock (_lock)
            {
                return _capture.Position;
            }
        }
    }

    /// <summary>The newest local TXID (0 before the first sync).</summary>
    public Txid Txid => Position?.MaxTxid ?? Txid.Zero;

    /// <summary>Time of the last successful sync that wrote a file.</summary>
    public DateTimeOffset? LastSyncAt => _capture.LastSyncAt;

    /// <summary>
    /// The newest TXID of the position this opening did not capture itself: the one loaded at <see cref="Open"/> (or put
    /// in place by a reset since). Until a replica has reconciled with this opening it cannot hold a TXID after it that
    /// we uploaded, so one there is another writer's, whatever <see cref="SyncIfContinuing"/> captured meanwhile.
    /// </summary>
    internal Txid InheritedTxid
    {
        get
        {
            lock (_lock)
            {
                return _capture.Inherited;
            }
        }
    }

    /// <summary>How many times <see cref="Open"/> succeeded: a replica reconciles once per opening against <see cref="InheritedTxid"/>.</summary>
    internal int Openings => Volatile.Read(ref _openings);

    private int _openings;

    /// <summary>
    /// A connection of its own to the database, holding its write lock (<c>BEGIN IMMEDIATE</c>): the application's
    /// writers wait on their busy timeout until the caller commits or rolls back and disposes it (LiteFS's HALT). The
    /// lock is tried over and over for up to <paramref name="wait"/>, as the checkpoint barrier takes it: SQLite's busy
    /// handler sleeps through the microseconds a busy application leaves between commits. Closing the connection does
    /// not checkpoint under the replicator. Null when another writer held the lock all that time. Blocks the caller.
    /// </summary>
    /// <exception cref="SqliteException">The database could not be opened, or SQLite failed other than busy.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled while waiting.</exception>
    public SqliteConnection? TryLockWrites(TimeSpan wait, CancellationToken cancellationToken = default)
        => DbConnections.TryOpenWriteLocked(Path, wait, cancellationToken);

    /// <summary>Directory of the local L0 files (<c>status</c> reads them).</summary>
    public string L0Directory => System.IO.Path.Combine(MetaPath, "ltx", "0");

    /// <summary>Path of a local L0 file.</summary>
    /// <summary>
    /// The NodeID written into new L0 files and snapshots: the replica lease's generation (<see cref="LtxNodeId"/>)
    /// once the replica holds the lease, else 0. Set by the replica, read by capture; a file captured under another
    /// generation is restamped when it is uploaded.
    /// </summary>
    internal ulong NodeId
    {
        get => Volatile.Read(ref _nodeId);
        set => Volatile.Write(ref _nodeId, value);
    }

    private ulong _nodeId;
    private ulong _announcedTxid;

    /// <summary>
    /// True the first time a replica of this database confirms <paramref name="txid"/> or a later TXID: the one
    /// <c>tx</c> event for it (with several replicas, whichever holds it first, so a failing replica silences nothing).
    /// </summary>
    internal bool TryAnnounce(Txid txid)
    {
        ulong seen = Volatile.Read(ref _announcedTxid);
        while (txid.Value > seen)
        {
            ulong previous = Interlocked.CompareExchange(ref _announcedTxid, txid.Value, seen);
            if (previous == seen)
            {
                return true;
            }
            seen = previous;
        }
        return false;
    }

    internal string L0FilePath(Txid txid) => System.IO.Path.Combine(L0Directory, LtxFileName.Format(txid, txid));

    /// <summary>
    /// Takes the database's replication lock (see <see cref="Open"/>) without opening it; the <see cref="Store"/> takes
    /// it before it touches the meta directory, even while it waits for the database file to appear. Held until
    /// <see cref="DisposeAsync"/>. Does nothing when already held.
    /// </summary>
    /// <exception cref="DatabaseLockedException">Another process replicates the database.</exception>
    internal void Lock()
    {
        lock (_lock)
        {
            LockLocked();
        }
    }

    /// <summary>True while this Db holds the replication lock.</summary>
    internal bool IsLocked
    {
        get
        {
            lock (_lock)
            {
                return _replicationLocked;
            }
        }
    }

    private void LockLocked()
    {
        if (!_replicationLocked)
        {
            bool existed = Directory.Exists(MetaPath);
            _replicationLock = ReplicationLock.Acquire(MetaPath, Path);
            _replicationLocked = true;
            _createdMetaPath = !existed;
        }
    }

    /// <summary>
    /// Takes the replication lock (an exclusive <c>flock</c> on <c>replicate.lock</c> in the meta directory, held
    /// until <see cref="DisposeAsync"/>: a second replicator of the same database, in this process or another,
    /// gets <see cref="DatabaseLockedException"/>), opens the connections, switches the database to WAL mode,
    /// creates the bookkeeping tables, starts the long read transaction and loads the local position. Throws
    /// <see cref="FileNotFoundException"/> when the database file does not exist and <see cref="LocalStateException"/>
    /// when the newest local L0 file is unreadable (see <see cref="ResetLocalState()"/>). When it throws, no
    /// connection stays open; the lock does until <see cref="DisposeAsync"/>.
    /// </summary>
    /// <exception cref="DatabaseLockedException">Another process replicates the database.</exception>
    public void Open()
    {
        lock (_lock)
        {
            if (_opened)
            {
                return;
            }
            if (!File.Exists(Path))
            {
                throw new FileNotFoundException($"database does not exist: {Path}", Path);
            }
            LockLocked();
            try
            {
                OpenLocked();
            }
            catch (SqliteException e) when (e.SqliteErrorCode == SqliteNotADatabase)
            {
                CloseLocked();
                // Callers prefix the path (replicate: "DB: not an SQLite database (…)").
                throw new InvalidDataException($"not an SQLite database ({e.Message})", e);
            }
            catch
            {
                CloseLocked();
                throw;
            }
            _everOpened = true;
            Log.DbInitialized(_logger, Path);
        }
    }

    private void OpenLocked()
    {
        Directory.CreateDirectory(L0Directory);
        foreach (string temp in Directory.EnumerateFiles(MetaPath, "*.tmp", SearchOption.AllDirectories))
        {
            FileUtil.TryDelete(temp);
        }
        ConnectLocked();
        _capture.Load(LoadPosition());
        _opened = true;
        _openings++;
    }

    /// <summary>
    /// Opens the connections and the long read transaction (at open, and again after <see cref="ReleaseIfQuietLocked"/>
    /// let them go). The database file descriptor is opened once and kept until <see cref="CloseLocked"/>: closing any
    /// descriptor of the database file drops every POSIX lock this process holds on it, SQLite's own included (an
    /// application in this process, our own connections), and another process could then take the exclusive lock and
    /// delete or reset the WAL under them. It is replaced only when the path now names another file.
    /// </summary>
    private void ConnectLocked()
    {
        (ulong Device, ulong Inode)? id = FileUtil.FileId(Path);
        if (_database is null || id != _databaseId)
        {
            _database?.Dispose();
            _database = File.OpenHandle(Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            _databaseId = id;
            _ = SqliteSharedLock.TryHold(_database); // without it an idle database's WAL may be deleted at the application's close: a snapshot next
        }
        _connections = DbConnections.Open(Path, Options.BusyTimeout, _database);
        if (PageSize != 0 && PageSize != _connections.PageSize)
        {
            throw new InvalidDataException($"page size changed from {PageSize} to {_connections.PageSize}");
        }
        PageSize = _connections.PageSize;
        EnsureWalExists();
        _walId = FileUtil.FileId(WalPath);
        _activeAt = Stopwatch.GetTimestamp();
    }

    /// <summary>Opens the connections again when they were let go for being idle.</summary>
    private void EnsureConnectedLocked()
    {
        RequireOpen();
        if (_connections is null)
        {
            ConnectLocked();
        }
    }

    /// <summary>
    /// Lets the connections go once nothing was captured for <see cref="DbOptions.IdleConnectionTimeout"/> and no
    /// checkpoint is due: an idle database then holds no SQLite connection, only its file descriptor and its state.
    /// Our read transaction is what keeps another process from checkpointing past frames we have not captured and
    /// restarting the WAL over them. So, under our write lock (the application cannot commit meanwhile), everything up
    /// to the WAL's end is captured first, and both connections close before the lock is released: nothing uncaptured is
    /// in the WAL when the protection ends. What is committed after that is either still in the same WAL generation
    /// right after the captured end (<see cref="WalCapture.MayHaveChanged"/> sees it and the next capture continues as
    /// today), or another process checkpointed and restarted the WAL meanwhile: the next capture then sees other salts
    /// and, exactly as after a replicator restart, continues across the restart only when the old generation's tail
    /// is intact and its checksum chain proves it (<see cref="WalCapture"/>), else writes a snapshot. No commit can be
    /// lost, at worst a snapshot is written. When the application holds the write lock it is not idle: keep them.
    /// </summary>
    private bool ReleaseIfQuietLocked()
    {
        TimeSpan timeout = Options.IdleConnectionTimeout;
        DbConnections? connections = _connections;
        if (connections is null || timeout <= TimeSpan.Zero || Stopwatch.GetElapsedTime(_activeAt) < timeout || _checkpoints.Due() is not null)
        {
            return false;
        }
        if (!connections.TryBeginImmediate(wait: false))
        {
            return false;
        }
        bool wrote;
        try
        {
            wrote = SyncLocked();
        }
        catch
        {
            connections.EndImmediate();
            throw;
        }
        if (wrote)
        {
            connections.EndImmediate(); // a commit landed since the capture just before: not idle after all
            _activeAt = Stopwatch.GetTimestamp();
            return true;
        }
        _capture.ForgetExpectedRestart();
        DisconnectLocked(); // the reader ends its read transaction first, the writer's close then ends the write lock
        Log.ConnectionsReleased(_logger, Path);
        return false;
    }

    private void DisconnectLocked()
    {
        _connections?.Dispose();
        Volatile.Write(ref _connections, null);
    }

    /// <summary>
    /// Deletes the local L0 files (upstream <c>DB.ResetLocalState</c>, <c>litestream reset</c>). The next
    /// sync starts over with a full snapshot; when the replica already holds files, the snapshot continues
    /// its TXID sequence (<see cref="Replica.ReconcileAsync"/>). Works whether or not the database is open,
    /// but not while another process replicates it.
    /// </summary>
    /// <exception cref="DatabaseLockedException">Another process replicates the database.</exception>
    public void ResetLocalState() => ResetLocalState(null);

    /// <summary>
    /// <see cref="ResetLocalState()"/>, telling <paramref name="removed"/> about each LTX file as it is deleted
    /// (its size; a progress line over many files).
    /// </summary>
    /// <exception cref="DatabaseLockedException">Another process replicates the database.</exception>
    public void ResetLocalState(Action<long>? removed)
    {
        lock (_lock)
        {
            // Briefly, when this Db does not hold it: the files belong to whoever replicates the database.
            using ReplicationLock? borrowed = _replicationLocked || !Directory.Exists(MetaPath) ? null : ReplicationLock.Acquire(MetaPath, Path);
            string ltx = System.IO.Path.Combine(MetaPath, "ltx");
            if (Directory.Exists(ltx))
            {
                if (removed is not null)
                {
                    foreach (FileInfo file in new DirectoryInfo(ltx).EnumerateFiles("*", SearchOption.AllDirectories))
                    {
                        long size = file.Length;
                        file.Delete();
                        removed(size);
                    }
                }
                Directory.Delete(ltx, recursive: true);
            }
            if (IsOpen)
            {
                Directory.CreateDirectory(L0Directory);
            }
            _capture.Reset(null, "local state reset");
        }
    }

    /// <summary>
    /// Captures newly committed WAL frames into the next L0 file. Returns true when a file was written.
    /// A snapshot (every page) is written when there is no position yet, when asked for, or when the WAL
    /// no longer continues from the position (rewritten or reset by another process).
    /// </summary>
    public bool Sync()
    {
        lock (_lock)
        {
            RequireOpen();
            // No stat()-based shortcut: after a WAL restart SQLite overwrites frames in place (same length)
            // and the kernel's coarse mtime can repeat within a tick, so "unchanged" cannot be proven that
            // way. Looking costs one header read and one frame read when nothing is new.
            long started = Stopwatch.GetTimestamp();
            bool wrote;
            try
            {
                if (_connections is null && !_capture.MayHaveChanged(_walId))
                {
                    wrote = false; // idle, connections let go, and the WAL shows nothing new
                }
                else
                {
                    wrote = CaptureLocked(continuingOnly: false) || ReleaseIfQuietLocked();
                }
            }
            catch (Exception e)
            {
                _metrics.Synced(started, e);
                throw;
            }
            _metrics.Synced(started, null);
            if (_capture.Position is { } pos)
            {
                _metrics.Position(pos.MaxTxid, pos.WalOffset + pos.WalSize);
            }
            return wrote;
        }
    }

    /// <summary>
    /// Captures, right after <see cref="Open"/> and before any replica is listed, what the application committed while
    /// no replicator held the database, when that continues the local position (a delta, also across the one WAL
    /// restart <see cref="WalCapture"/> can prove); a capture that would have to be a snapshot is left to the first
    /// sync after the reconcile, which may adopt the replica's position first. Until this capture the application's
    /// checkpoints can restart the WAL again (our read transaction, begun on a fully copied WAL, holds SQLite's read
    /// slot 0, which lets one more restart through), and a second restart overwrites the frames the proof reads: a
    /// listing that takes seconds made that a full snapshot. True when a file was written.
    /// </summary>
    internal bool SyncIfContinuing()
    {
        lock (_lock)
        {
            RequireOpen();
            if (_capture.Position is null)
            {
                return false; // nothing to continue: the first capture is a snapshot, after the reconcile
            }
            return CaptureLocked(continuingOnly: true);
        }
    }

    /// <summary>Connects when idle, captures, and marks the database active when a file was written.</summary>
    private bool CaptureLocked(bool continuingOnly)
    {
        EnsureConnectedLocked();
        bool wrote = SyncLocked(continuingOnly);
        if (wrote)
        {
            _activeAt = Stopwatch.GetTimestamp();
        }
        return wrote;
    }

    /// <summary>Makes the next sync write a full snapshot (e.g. after the replica diverged).</summary>
    public void ForceSnapshot(string reason)
    {
        lock (_lock)
        {
            _capture.ForceSnapshot(reason);
        }
    }

    /// <summary>
    /// Replaces the local position with <paramref name="header"/> (the replica's newest L0 file, or null for
    /// an empty replica), deletes local L0 files, and forces a snapshot at the next TXID so the TXID
    /// sequence continues from the replica's (upstream <c>checkDatabaseBehindReplica</c>).
    /// </summary>
    internal void ResetPosition(LtxHeader? header, string? localCopy, string reason)
    {
        lock (_lock)
        {
            foreach (string file in Directory.EnumerateFiles(L0Directory))
            {
                if (localCopy is null || !string.Equals(System.IO.Path.GetFullPath(file), System.IO.Path.GetFullPath(localCopy), StringComparison.Ordinal))
                {
                    FileUtil.TryDelete(file);
                }
            }
            _capture.Reset(header, reason);
        }
    }

    /// <summary>Runs a checkpoint if the WAL size or the checkpoint interval calls for one (upstream priority order); true when one ran.</summary>
    internal bool CheckpointIfNeeded()
    {
        lock (_lock)
        {
            RequireOpen();
            if (_checkpoints.Due() is not { } mode)
            {
                return false;
            }
            EnsureConnectedLocked();
            return _checkpoints.Run(mode);
        }
    }

    /// <summary>
    /// Time until <see cref="CheckpointIfNeeded"/> runs a time-based checkpoint (zero when overdue); null while none
    /// is due because nothing was synced since the last one.
    /// </summary>
    internal TimeSpan? CheckpointDueIn
    {
        get
        {
            lock (_lock)
            {
                return _checkpoints.DueIn;
            }
        }
    }

    /// <summary>Syncs, then checkpoints in the given mode while keeping every commit captured.</summary>
    public void Checkpoint(CheckpointMode mode)
    {
        lock (_lock)
        {
            EnsureConnectedLocked();
            _ = _checkpoints.Run(mode);
        }
    }

    /// <summary>
    /// Writes a full snapshot (MinTxid 1 .. current TXID, every page but the lock page) of the database as
    /// of the local position to <paramref name="output"/>: pages from the WAL up to the synced offset,
    /// the rest from the database file, which the long read transaction keeps from moving past the
    /// position (upstream <c>DB.Snapshot</c>). Syncs first so the snapshot is current. Returns its header,
    /// or null before the first sync.
    /// </summary>
    internal LtxHeader? WriteSnapshot(Stream output, LtxPageCipher? cipher = null)
    {
        lock (_lock)
        {
            EnsureConnectedLocked();
            SyncLocked();
            if (_capture.Position is not { } pos)
            {
                return null;
            }
            using SafeFileHandle wal = File.OpenHandle(WalPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            WalPageMap map;
            long end = pos.WalOffset + pos.WalSize;
            using (WalReader? reader = end > WalHeader.Size ? WalReader.Open(wal) : null)
            {
                map = reader is not null && reader.Header.Salt1 == pos.WalSalt1 && reader.Header.Salt2 == pos.WalSalt2
                    ? reader.ReadPageMap(end - WalHeader.Size)
                    : WalPageMap.Empty;
            }
            if (map.MaxOffset != 0 && map.MaxOffset != end)
            {
                throw new InvalidDataException($"wal changed under the snapshot: captured through {end}, read through {map.MaxOffset}");
            }
            var header = new LtxHeader
            {
                Flags = LtxConstants.HeaderFlagNoChecksum,
                PageSize = PageSize,
                Commit = pos.Commit,
                MinTxid = new Txid(1),
                MaxTxid = pos.MaxTxid,
                Timestamp = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
                NodeId = NodeId,
            };
            byte[] page = ArrayPool<byte>.Shared.Rent((int)PageSize);
            try
            {
                using var encoder = new LtxEncoder(output, leaveOpen: true) { Cipher = cipher };
                encoder.EncodeHeader(header);
                _ = new WalPageSource(map, wal, _database!, PageSize).EncodeAll(encoder, header.Commit, page.AsSpan(0, (int)PageSize));
                encoder.Close(0);
                return encoder.Header;
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(page);
            }
        }
    }

    /// <summary>Rolls back the read transaction, closes both connections (no checkpoint on close) and releases the replication lock.</summary>
    public ValueTask DisposeAsync()
    {
        lock (_lock)
        {
            CloseLocked();
            if (_createdMetaPath && !_everOpened && _replicationLock is not null)
            {
                RemoveUnusedMetaPath();
            }
            _replicationLock?.Dispose();
            _replicationLock = null;
            _replicationLocked = false;
        }
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Removes the meta directory this Db created but never used (the lock file and empty directories), while still
    /// holding the lock; anything else found in it stays, and so does the directory.
    /// </summary>
    private void RemoveUnusedMetaPath()
    {
        FileUtil.TryDelete(System.IO.Path.Combine(MetaPath, ReplicationLock.FileName));
        foreach (string directory in new[] { L0Directory, System.IO.Path.Combine(MetaPath, "ltx"), MetaPath })
        {
            try
            {
                Directory.Delete(directory, recursive: false);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Not empty, or gone already: leave it.
            }
        }
    }

    /// <summary>Closes the connections but keeps the replication lock: the store reopens after a failure without letting another replicator in.</summary>
    internal void Close()
    {
        lock (_lock)
        {
            CloseLocked();
        }
    }

    private void CloseLocked()
    {
        DisconnectLocked();
        _database?.Dispose();
        _database = null;
        _databaseId = null;
        _walId = null;
        _opened = false;
    }

    /// <summary>
    /// Only a connection holding the EXCLUSIVE lock on the database file deletes or recreates its WAL, and the SHARED
    /// lock our connections hold forbids that, unless it was lost: closing any descriptor of the database file in this
    /// process (a header probe, a copy) drops every POSIX lock the process holds on it. Another process's last
    /// connection then closes with the EXCLUSIVE lock, checkpoints the whole WAL past our read mark and deletes it, so
    /// its last commits are in the database file only, and our connections still use the deleted WAL and shared
    /// memory. Reopening them takes the lock again; the snapshot captures what no WAL showed us.
    /// </summary>
    private void ReopenIfWalReplaced()
    {
        if (_walId is not { } opened || FileUtil.FileId(WalPath) == opened || !File.Exists(Path))
        {
            return; // a database deleted with its WAL has nothing more to capture: its replica keeps what it holds
        }
        Log.Warning(_logger, Path, "the WAL was deleted or replaced by another process under this process's connections (their lock on the database file was lost); reopening them and taking a snapshot");
        DisconnectLocked();
        ConnectLocked();
        _capture.ForceSnapshot("wal replaced under our connections");
    }

    /// <summary>The connections (while open): for the checkpoint protocol.</summary>
    internal DbConnections Connections => _connections ?? throw new InvalidOperationException($"database not open: {Path}");

    /// <summary>
    /// Captures what was committed since the position; true when a file was written. With
    /// <paramref name="continuingOnly"/>, not when it would be a snapshot. Callers hold the lock.
    /// </summary>
    internal bool SyncLocked(bool continuingOnly = false)
    {
        ReopenIfWalReplaced();
        EnsureWalExists();
        return _capture.Capture(_database!, continuingOnly);
    }

    private long WalFileSize()
    {
        var info = new FileInfo(WalPath);
        return info.Exists ? info.Length : 0;
    }

    /// <summary>Upstream writes a row whenever the WAL is missing or shorter than its header, so a WAL always exists to read.</summary>
    private void EnsureWalExists()
    {
        if (WalFileSize() >= WalHeader.Size)
        {
            return;
        }
        _connections!.WriteSeqRow();
    }

    private LtxHeader? LoadPosition()
    {
        Txid max = Txid.Zero;
        string? newest = null;
        foreach (string file in Directory.EnumerateFiles(L0Directory, "*.ltx"))
        {
            if (LtxFileName.TryParse(System.IO.Path.GetFileName(file), out _, out Txid fileMax) && fileMax > max)
            {
                max = fileMax;
                newest = file;
            }
        }
        if (newest is null)
        {
            return null;
        }
        try
        {
            using var decoder = new LtxDecoder(File.OpenRead(newest), leaveOpen: false) { KeepPageIndex = false };
            LtxHeader header = decoder.DecodeHeader();
            decoder.Close();
            return header;
        }
        catch (Exception e) when (e is LtxFormatException or EndOfStreamException)
        {
            // The newest file anchors the position (WAL offset, salts, commit): without it the next TXID
            // and the WAL continuity cannot be known.
            throw new LocalStateException($"local l0 file {newest} is unreadable: {e.Message}", newest, e);
        }
    }

    private void RequireOpen()
    {
        if (!_opened)
        {
            throw new InvalidOperationException($"database not open: {Path}");
        }
    }
}
