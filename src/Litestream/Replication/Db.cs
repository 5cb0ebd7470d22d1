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
/// One SQLite database being replicated (upstream <c>DB</c>). Holds two connections: one keeps a read
/// transaction open so no other process can checkpoint past what has been captured or reset the WAL,
/// the other writes the replicator's bookkeeping rows and takes the write barrier around checkpoints.
/// Each <see cref="Sync"/> turns the newly committed WAL frames into one L0 LTX file in the meta
/// directory (temp file, fsync, rename, directory fsync), TXID = previous + 1.
/// </summary>
public sealed class Db : IAsyncDisposable
{
    private const string MetaDirSuffix = "-litestream";
    private const int SqliteFcntlPersistWal = 10;
    private const int SqliteDbConfigNoCkptOnClose = 1006;
    private const int SqliteOk = 0;
    private const int SqliteBusy = 5;
    private const int SqliteLocked = 6;
    private const int SqliteNotADatabase = 26;
    private const int SqliteCheckpointPassive = 0;
    private const int SqliteCheckpointTruncate = 3;

    private readonly ILogger _logger;
    private readonly DbMetrics _metrics;
    private readonly Lock _lock = new();
    private SqliteConnection? _writeConn;
    private SqliteConnection? _readConn;
    // Kept open for the Db's lifetime: closing any descriptor of the database file drops every POSIX lock
    // this process holds on it, including SQLite's own, and another process could then take the exclusive
    // lock and delete or reset the WAL under our connections.
    private SafeFileHandle? _dbHandle;
    // Held from the first Open until DisposeAsync (not dropped by a failed open): one replicator per database.
    private ReplicationLock? _replicationLock;
    private bool _replicationLocked;
    // The meta directory did not exist before this Db took the lock, and the database never opened: nothing of
    // value is in it, so closing removes it (a path that is not an SQLite database leaves nothing behind).
    private bool _createdMetaPath;
    private bool _everOpened;
    private LtxHeader? _position;
    // The WAL file our connections opened (device, inode): see ReopenIfWalReplaced.
    private (ulong Device, ulong Inode)? _walId;
    private bool _forceSnapshot;
    private string? _forceSnapshotReason;
    private bool _walRestartExpected;
    private DateTime _lastCheckpointAt = DateTime.UtcNow;
    private bool _syncedSinceCheckpoint;

    /// <summary>Creates the database handle; nothing is opened until <see cref="Open"/>.</summary>
    public Db(string path, DbOptions? options = null, ILogger? logger = null)
    {
        Path = System.IO.Path.GetFullPath(path);
        Options = options ?? new DbOptions();
        _logger = logger ?? NullLogger.Instance;
        _metrics = new DbMetrics(Path);
        Backlog = new LocalBacklog(this);
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
    public bool IsOpen => _readConn is not null;

    /// <summary>Header of the newest local L0 file: the local replication position; null before the first sync.</summary>
    public LtxHeader? Position
    {
        get
        {
            lock (_lock)
            {
                return _position;
            }
        }
    }

    /// <summary>The newest local TXID (0 before the first sync).</summary>
    public Txid Txid => Position?.MaxTxid ?? Txid.Zero;

    /// <summary>Time of the last successful sync that wrote a file.</summary>
    public DateTimeOffset? LastSyncAt { get; private set; }

    /// <summary>Directory of the local L0 files.</summary>
    internal string L0Directory => System.IO.Path.Combine(MetaPath, "ltx", "0");

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
            if (_readConn is not null)
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
        _writeConn = OpenConnection();
        string mode = ScalarString(_writeConn, "PRAGMA journal_mode = wal");
        if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidOperationException($"could not enable wal mode on {Path}: journal_mode is {mode}");
        }
        Exec(_writeConn, "CREATE TABLE IF NOT EXISTS _litestream_seq (id INTEGER PRIMARY KEY, seq INTEGER)");
        Exec(_writeConn, "CREATE TABLE IF NOT EXISTS _litestream_lock (id INTEGER)");
        PageSize = checked((uint)ScalarLong(_writeConn, "PRAGMA page_size"));
        _readConn = OpenConnection();
        AcquireReadLock();
        _dbHandle = File.OpenHandle(Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        _position = LoadPosition();
        EnsureWalExists();
        _walId = FileUtil.FileId(WalPath);
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
            _position = null;
            _forceSnapshot = true;
            _forceSnapshotReason = "local state reset";
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
                wrote = SyncLocked();
            }
            catch (Exception e)
            {
                _metrics.Synced(started, e);
                throw;
            }
            _metrics.Synced(started, null);
            if (_position is { } pos)
            {
                _metrics.Position(pos.MaxTxid, pos.WalOffset + pos.WalSize);
            }
            return wrote;
        }
    }

    /// <summary>Makes the next sync write a full snapshot (e.g. after the replica diverged).</summary>
    public void ForceSnapshot(string reason)
    {
        lock (_lock)
        {
            _forceSnapshot = true;
            _forceSnapshotReason = reason;
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
            _position = header;
            _forceSnapshot = true;
            _forceSnapshotReason = reason;
        }
    }

    /// <summary>Runs a checkpoint if the WAL size or the checkpoint interval calls for one (upstream priority order); true when one ran.</summary>
    internal bool CheckpointIfNeeded()
    {
        lock (_lock)
        {
            RequireOpen();
            // The captured extent of the current WAL generation, not the file length: after a restart
            // SQLite reuses the file from the start, so its length no longer says how much is pending.
            long walSize = _position is { } pos ? pos.WalOffset + pos.WalSize : 0;
            long frameSize = WalFrameHeader.Size + PageSize;
            if (Options.TruncatePageN > 0 && walSize >= WalHeader.Size + (frameSize * Options.TruncatePageN))
            {
                return CheckpointLocked(CheckpointMode.Truncate);
            }
            else if (Options.MinCheckpointPageCount > 0 && walSize >= WalHeader.Size + (frameSize * Options.MinCheckpointPageCount))
            {
                return CheckpointLocked(CheckpointMode.Passive);
            }
            else if (Options.CheckpointInterval > TimeSpan.Zero && _syncedSinceCheckpoint
                && DateTime.UtcNow - _lastCheckpointAt >= Options.CheckpointInterval && walSize > WalHeader.Size + frameSize)
            {
                return CheckpointLocked(CheckpointMode.Passive);
            }
            return false;
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
                if (Options.CheckpointInterval <= TimeSpan.Zero || !_syncedSinceCheckpoint)
                {
                    return null;
                }
                TimeSpan left = Options.CheckpointInterval - (DateTime.UtcNow - _lastCheckpointAt);
                return left > TimeSpan.Zero ? left : TimeSpan.Zero;
            }
        }
    }

    /// <summary>Syncs, then checkpoints in the given mode while keeping every commit captured.</summary>
    public void Checkpoint(CheckpointMode mode)
    {
        lock (_lock)
        {
            RequireOpen();
            _ = CheckpointLocked(mode);
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
            RequireOpen();
            SyncLocked();
            if (_position is not { } pos)
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
                Span<byte> buffer = page.AsSpan(0, (int)PageSize);
                uint lockPgno = LtxConstants.LockPgno(PageSize);
                for (uint pgno = 1; pgno <= header.Commit; pgno++)
                {
                    if (pgno != lockPgno)
                    {
                        ReadPage(pgno, map, wal, _dbHandle!, buffer);
                        encoder.EncodePage(pgno, buffer);
                    }
                }
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
        if (_readConn is not null)
        {
            TryExec(_readConn, "ROLLBACK");
            _readConn.Dispose();
            _readConn = null;
        }
        _writeConn?.Dispose();
        _writeConn = null;
        _dbHandle?.Dispose();
        _dbHandle = null;
        _walId = null;
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
        CloseLocked();
        OpenLocked();
        _forceSnapshot = true;
        _forceSnapshotReason = "wal replaced under our connections";
    }

    private bool SyncLocked()
    {
        ReopenIfWalReplaced();
        EnsureWalExists();
        SafeFileHandle wal;
        try
        {
            wal = File.OpenHandle(WalPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        }
        catch (FileNotFoundException)
        {
            return false;
        }
        SafeFileHandle db = _dbHandle!;
        using (wal)
        {
            WalReader? reader;
            try
            {
                reader = WalReader.Open(wal);
            }
            catch (InvalidDataException) when (RandomAccess.GetLength(wal) == 0)
            {
                reader = null;
            }
            if (reader is null)
            {
                return false; // no valid WAL header yet (just truncated): nothing committed to capture
            }
            WalHeader walHeader = reader.Header;
            reader.Dispose();
            if (walHeader.PageSize != PageSize)
            {
                throw new InvalidDataException($"wal page size {walHeader.PageSize} does not match database page size {PageSize}");
            }

            if (!_walRestartExpected && !_forceSnapshot && _position is { } last && (walHeader.Salt1, walHeader.Salt2) != (last.WalSalt1, last.WalSalt2))
            {
                _walRestartExpected = ContinueAcrossWalRestart(last, walHeader, wal, db);
            }
            (long offset, string? snapshotReason) = Verify(walHeader, RandomAccess.GetLength(wal));
            bool snapshot = snapshotReason is not null;
            WalReader? frames = null;
            try
            {
                if (offset > WalHeader.Size)
                {
                    try
                    {
                        frames = WalReader.OpenAt(wal, offset, walHeader.Salt1, walHeader.Salt2);
                    }
                    catch (WalPrevFrameMismatchException)
                    {
                        offset = WalHeader.Size;
                        snapshot = true;
                        snapshotReason = "wal overwritten by another process";
                    }
                }
                frames ??= WalReader.Open(wal);
                if (frames is null)
                {
                    return false;
                }
                WalPageMap map = frames.ReadPageMap(snapshot ? long.MaxValue : Options.MaxSyncWalBytes);
                if (!snapshot && map.Commit == 0)
                {
                    return false;
                }
                uint commit = map.Commit != 0 ? map.Commit : checked((uint)(RandomAccess.GetLength(db) / PageSize));
                long walSize = map.MaxOffset != 0 ? map.MaxOffset - offset : 0;
                (LtxHeader header, int pages) = CaptureNext(map, commit, offset, walSize, walHeader.Salt1, walHeader.Salt2, wal, db, snapshot);
                _forceSnapshot = false;
                _forceSnapshotReason = null;
                _walRestartExpected = false;
                if (snapshot)
                {
                    Log.Snapshot(_logger, Path, header.MaxTxid.ToString(), commit, snapshotReason!);
                }
                else
                {
                    Log.Synced(_logger, Path, header.MaxTxid.ToString(), pages, offset, walSize);
                }
                return true;
            }
            finally
            {
                frames?.Dispose();
            }
        }
    }

    /// <summary>
    /// The WAL restarted while nobody captured it (typically: we were stopped, the application kept committing,
    /// checkpointed and started a new WAL generation). Without proof of what was committed between our position
    /// and the restart, the next file must be a snapshot: a whole database uploaded again on every restart of the
    /// replicator. This proves it from the WAL itself and captures those commits as an ordinary delta:
    /// <list type="bullet">
    /// <item>exactly one restart happened: SQLite increments salt-1 at each restart (and draws both salts at random
    /// for a new WAL file);</item>
    /// <item>the last frame we captured is still in the file with its salts: the new generation, written from the
    /// start of the file, has not reached it, so every later frame of the old generation is intact too;</item>
    /// <item>the frames after it continue its checksum chain up to a commit and stop there: the restart came after
    /// a checkpoint that copied everything committed, and no transaction was left half written;</item>
    /// <item>the file holds whole frames only: <c>journal_size_limit</c> truncates the WAL at a restart to a byte
    /// count, which would cut the old generation short (no common limit is a frame boundary);</item>
    /// <item>every page the database grew by is in those frames (the database file holds newer versions).</item>
    /// </list>
    /// Returns true when the old generation's tail is captured (or was empty): the new generation then continues
    /// from its first frame.
    /// </summary>
    private bool ContinueAcrossWalRestart(LtxHeader last, WalHeader walHeader, SafeFileHandle wal, SafeFileHandle db)
    {
        long end = last.WalOffset + last.WalSize;
        long frameSize = WalFrameHeader.Size + PageSize;
        long fileSize = RandomAccess.GetLength(wal);
        if (walHeader.Salt1 != unchecked(last.WalSalt1 + 1) || end <= WalHeader.Size || (fileSize - WalHeader.Size) % frameSize != 0)
        {
            return false;
        }
        WalReader? tail;
        try
        {
            tail = WalReader.OpenAt(wal, end, last.WalSalt1, last.WalSalt2);
        }
        catch (WalPrevFrameMismatchException)
        {
            return false;
        }
        if (tail is null)
        {
            return false;
        }
        using (tail)
        {
            WalPageMap map = tail.ReadPageMap();
            if (tail.Checksum != tail.CommitChecksum)
            {
                return false; // frames of an unfinished transaction follow: not the state the restart began from
            }
            if (map.Commit == 0)
            {
                return true; // nothing was committed between our position and the restart
            }
            uint lockPgno = LtxConstants.LockPgno(PageSize);
            for (uint pgno = last.Commit + 1; pgno <= map.Commit; pgno++)
            {
                if (pgno != lockPgno && !map.Pages.ContainsKey(pgno))
                {
                    return false;
                }
            }
            (LtxHeader header, int pages) = CaptureNext(map, map.Commit, end, map.MaxOffset - end, last.WalSalt1, last.WalSalt2, wal, db, snapshot: false);
            Log.ContinuedAcrossWalRestart(_logger, Path, header.MaxTxid.ToString(), pages);
            return true;
        }
    }

    /// <summary>
    /// Writes the next L0 file (TXID + 1) from <paramref name="map"/>'s frames of the WAL generation with these salts,
    /// and makes it the local position.
    /// </summary>
    private (LtxHeader Header, int Pages) CaptureNext(WalPageMap map, uint commit, long walOffset, long walSize, uint salt1, uint salt2, SafeFileHandle wal, SafeFileHandle db, bool snapshot)
    {
        var header = new LtxHeader
        {
            Flags = LtxConstants.HeaderFlagNoChecksum,
            PageSize = PageSize,
            Commit = commit,
            MinTxid = new Txid(Txid.Value + 1),
            MaxTxid = new Txid(Txid.Value + 1),
            Timestamp = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            WalOffset = walOffset,
            WalSize = walSize,
            WalSalt1 = salt1,
            WalSalt2 = salt2,
            NodeId = NodeId,
        };
        int pages = WriteL0(header, map, wal, db, snapshot);
        _metrics.WalCaptured(walSize);
        _position = header;
        _syncedSinceCheckpoint = true;
        LastSyncAt = DateTimeOffset.UtcNow;
        Captures.Add(header.MaxTxid, LastSyncAt.Value);
        return (header, pages);
    }

    /// <summary>Decides where the next sync starts in the WAL and whether it must be a snapshot (upstream <c>verify</c>).</summary>
    private (long Offset, string? SnapshotReason) Verify(WalHeader walHeader, long walFileSize)
    {
        if (_position is not { } pos)
        {
            return (WalHeader.Size, "no local position");
        }
        if (_forceSnapshot)
        {
            return (WalHeader.Size, _forceSnapshotReason ?? "requested");
        }
        if (walHeader.Salt1 != pos.WalSalt1 || walHeader.Salt2 != pos.WalSalt2)
        {
            // The WAL restarted. After our own checkpoint (every commit captured under the write barrier)
            // the new generation simply continues from its first frame; otherwise frames may be lost.
            return _walRestartExpected ? (WalHeader.Size, null) : (WalHeader.Size, "wal header salt reset");
        }
        long offset = pos.WalOffset + pos.WalSize;
        if (offset > walFileSize)
        {
            return (WalHeader.Size, "wal truncated by another process");
        }
        return (offset, null);
    }

    private int WriteL0(LtxHeader header, WalPageMap map, SafeFileHandle wal, SafeFileHandle db, bool snapshot)
    {
        string final = L0FilePath(header.MaxTxid);
        string temp = final + ".tmp";
        byte[] page = ArrayPool<byte>.Shared.Rent((int)PageSize);
        int count = 0;
        try
        {
            using (var output = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 64 * 1024))
            using (var encoder = new LtxEncoder(output, leaveOpen: true))
            {
                encoder.EncodeHeader(header);
                Span<byte> buffer = page.AsSpan(0, (int)PageSize);
                uint lockPgno = LtxConstants.LockPgno(PageSize);
                if (snapshot)
                {
                    for (uint pgno = 1; pgno <= header.Commit; pgno++)
                    {
                        if (pgno != lockPgno)
                        {
                            ReadPage(pgno, map, wal, db, buffer);
                            encoder.EncodePage(pgno, buffer);
                            count++;
                        }
                    }
                }
                else
                {
                    uint prevCommit = _position?.Commit ?? 0;
                    var pgnos = new List<uint>(map.Pages.Count);
                    foreach (uint pgno in map.Pages.Keys)
                    {
                        pgnos.Add(pgno);
                    }
                    // Pages the database grew by that this WAL range did not write come from the database file.
                    for (uint pgno = prevCommit + 1; pgno <= header.Commit; pgno++)
                    {
                        if (pgno != lockPgno && !map.Pages.ContainsKey(pgno))
                        {
                            pgnos.Add(pgno);
                        }
                    }
                    pgnos.Sort();
                    foreach (uint pgno in pgnos)
                    {
                        ReadPage(pgno, map, wal, db, buffer);
                        encoder.EncodePage(pgno, buffer);
                        count++;
                    }
                }
                encoder.Close(0);
                output.Flush(flushToDisk: true);
            }
            FileUtil.CommitRename(temp, final);
            return count;
        }
        catch
        {
            FileUtil.TryDelete(temp);
            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(page);
        }
    }

    private void ReadPage(uint pgno, WalPageMap map, SafeFileHandle wal, SafeFileHandle db, Span<byte> buffer)
    {
        int read = map.Pages.TryGetValue(pgno, out long frameOffset)
            ? RandomAccess.Read(wal, buffer, frameOffset + WalFrameHeader.Size)
            : RandomAccess.Read(db, buffer, (long)(pgno - 1) * PageSize);
        if (read != buffer.Length)
        {
            // A page past the end of the database file that the WAL does not hold reads as zeros, as SQLite would.
            buffer[Math.Max(read, 0)..].Clear();
        }
    }

    /// <summary>Runs the checkpoint; false when it was deferred because the application holds the write lock.</summary>
    private bool CheckpointLocked(CheckpointMode mode)
    {
        (uint Salt1, uint Salt2)? before = ReadWalSalts();
        // Start and finish are logged (debug) so the crash soak can tell a kill landed inside a checkpoint.
        Log.CheckpointStarting(_logger, Path, mode == CheckpointMode.Passive ? "PASSIVE" : "TRUNCATE");
        TimeSpan barrier = TimeSpan.Zero;
        if (mode == CheckpointMode.Passive)
        {
            if (!PassiveCheckpointLocked(out barrier))
            {
                return false;
            }
        }
        else
        {
            SqliteConnection reader = _readConn!;
            SyncLocked();
            Exec(reader, "ROLLBACK");
            try
            {
                _ = Checkpoint(reader, CheckpointMode.Truncate);
            }
            finally
            {
                AcquireReadLock();
            }
        }
        // A fully checkpointed WAL restarts on its next write: the application's, when it wrote since the barrier (other
        // salts), else our own row (also the first write after TRUNCATE, which leaves no header). Ours would wait for the
        // application's write lock, so it is written only when needed.
        bool ownRow = ReadWalSalts() is not { } restarted || restarted == before;
        bool restartWritten = !ownRow || TryWriteRestartRow(_writeConn!);
        RenewReadLock();
        (uint Salt1, uint Salt2)? after = ReadWalSalts();
        if (after != before || !restartWritten)
        {
            if (mode == CheckpointMode.Passive)
            {
                // Busy: the application's write holds the lock and restarts the WAL itself. Either way the only restart
                // possible is the first write after this checkpoint (our read transaction pins the WAL otherwise),
                // and everything before it was captured under the write barrier.
                _walRestartExpected = true;
            }
            else
            {
                // Commits between the last capture and the truncate cannot be proven captured.
                _forceSnapshot = true;
                _forceSnapshotReason = "checkpoint boundary snapshot";
            }
        }
        _lastCheckpointAt = DateTime.UtcNow;
        if (ownRow && restartWritten)
        {
            // Capturing our own _litestream_seq row is no database change: without this an idle database would
            // checkpoint, write a row and ship a new transaction every checkpoint interval (upstream #896).
            SyncLocked();
        }
        // Else the application's commits since the barrier are left to the next sync: a busy writer's files stay one
        // monitor interval apart (each file is one upload and, locally and on a file replica, fsyncs that a writer
        // at synchronous=FULL waits behind).
        _syncedSinceCheckpoint = false;
        Log.CheckpointFinished(_logger, Path, barrier.TotalMilliseconds);
        return true;
    }

    /// <summary>True for SQLite's busy and locked errors: another connection held the database past the busy timeout, which passes.</summary>
    internal static bool IsBusy(Exception e) => e is SqliteException { SqliteErrorCode: SqliteBusy or SqliteLocked };

    /// <summary>
    /// Bumps the bookkeeping row after a checkpoint; false when the application held the write lock past the busy
    /// timeout (a busy machine: a writer descheduled mid-commit). The checkpoint itself is done, so that is no sync
    /// failure (upstream skips a busy checkpoint the same way); the caller accounts for the restart it did not cause.
    /// </summary>
    private bool TryWriteRestartRow(SqliteConnection writer)
    {
        try
        {
            Exec(writer, "INSERT INTO _litestream_seq (id, seq) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET seq = seq + 1");
            return true;
        }
        catch (SqliteException e) when (e.SqliteErrorCode is SqliteBusy or SqliteLocked)
        {
            Log.CheckpointRestartDeferred(_logger, Path);
            return false;
        }
    }

    /// <summary>
    /// A passive checkpoint that leaves no commit uncaptured: the last capture and the copy of the last frames happen
    /// under a write barrier (our write lock), so the WAL can restart right after it. Everything that can happen
    /// before the barrier does, while the application keeps committing: the application waits on the barrier with
    /// SQLite's busy handler (1, 2, 5, 10 ms… sleeps), so every millisecond it lasts costs a busy writer more.
    /// False when the application held the write lock for the whole busy timeout.
    /// </summary>
    private bool PassiveCheckpointLocked(out TimeSpan barrier)
    {
        barrier = TimeSpan.Zero;
        // Copy what the WAL holds now into the database, and when that took a while, once more: the second copy takes
        // what was committed during the first, so the one under the barrier has only the last moments' frames to copy
        // and to fsync (at synchronous=NORMAL the application never fsyncs the WAL: a checkpoint fsyncs all it copies).
        // A quick copy is not repeated: each costs two fsyncs, which a writer at synchronous=FULL waits behind. Moving our read
        // mark to the WAL's end first is safe: frames past our last capture stay in the WAL, which nobody can restart
        // while we hold a read mark. The application's autocheckpoint may win the race for the checkpoint lock and
        // copy them itself.
        // Our copy must win that race, or a busy writer pays for copying (and fsyncing) a whole second of frames itself:
        // the mark moves and our checkpoint starts within microseconds (no managed statement in between), and a busy
        // checkpoint lock, an application attempt that started before the mark moved and finds nothing to copy, is
        // simply tried again.
        for (int copy = 0; copy < 2; copy++)
        {
            long copyStart = Stopwatch.GetTimestamp();
            RenewReadLock();
            _ = Checkpoint(_writeConn!, CheckpointMode.Passive);
            if (Stopwatch.GetElapsedTime(copyStart) < TimeSpan.FromMilliseconds(5))
            {
                break;
            }
        }
        // Capture what was committed during the copy, so the barrier only has the last moments' commits to capture.
        SyncLocked();
        SqliteConnection writer = _writeConn!, reader = _readConn!;
        if (!TryBeginImmediate(writer))
        {
            Log.CheckpointDeferred(_logger, Path);
            return false;
        }
        long start = Stopwatch.GetTimestamp();
        try
        {
            SyncLocked();
            Exec(reader, "ROLLBACK");
            try
            {
                // The application cannot commit now, but its autocheckpoint from before the barrier may still hold the
                // checkpoint lock: it ends soon, then ours copies the rest.
                _ = Checkpoint(reader, CheckpointMode.Passive);
            }
            finally
            {
                AcquireReadLock();
            }
        }
        finally
        {
            TryExec(writer, "ROLLBACK");
            barrier = Stopwatch.GetElapsedTime(start);
        }
        return true;
    }

    /// <summary>
    /// Takes the write lock (BEGIN IMMEDIATE) within the busy timeout by trying it over and over, first between
    /// short yields, then every millisecond: a busy application releases it for microseconds between commits,
    /// which SQLite's busy handler (sleeps of 1, 2, 5, 10… ms) mostly sleeps through, and every commit that lands
    /// meanwhile is one more to capture under the barrier. False when it stayed busy.
    /// </summary>
    private bool TryBeginImmediate(SqliteConnection connection)
    {
        SQLitePCL.sqlite3 handle = connection.Handle!;
        long start = Stopwatch.GetTimestamp();
        long deadline = start + (long)(Options.BusyTimeout.TotalSeconds * Stopwatch.Frequency);
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
                Pause(start);
            }
        }
        finally
        {
            _ = SQLitePCL.raw.sqlite3_busy_timeout(handle, (int)Options.BusyTimeout.TotalMilliseconds);
        }
    }

    /// <summary>
    /// Checkpoints (<c>sqlite3_wal_checkpoint_v2</c>); returns the frames in the WAL and how many of them are copied.
    /// SQLite never waits for the checkpoint lock, in any mode: while another connection holds it (the application's
    /// autocheckpoint, microseconds when there is nothing it may copy) this tries again, between yields, then every
    /// millisecond, for up to the busy timeout.
    /// </summary>
    private (int Frames, int Copied) Checkpoint(SqliteConnection connection, CheckpointMode mode)
    {
        SQLitePCL.sqlite3 handle = connection.Handle!;
        int sqliteMode = mode == CheckpointMode.Passive ? SqliteCheckpointPassive : SqliteCheckpointTruncate;
        long start = Stopwatch.GetTimestamp();
        long deadline = start + (long)(Options.BusyTimeout.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            int rc = SQLitePCL.raw.sqlite3_wal_checkpoint_v2(handle, "main", sqliteMode, out int frames, out int copied);
            bool lockBusy = rc == SqliteBusy && frames < 0;
            if (!lockBusy || Stopwatch.GetTimestamp() >= deadline)
            {
                string name = mode == CheckpointMode.Passive ? "PASSIVE" : "TRUNCATE";
                if (rc is not (SqliteOk or SqliteBusy))
                {
                    try
                    {
                        SqliteException.ThrowExceptionForRC(rc, handle);
                    }
                    catch (SqliteException e)
                    {
                        _metrics.Checkpointed(name, start, e);
                        throw;
                    }
                }
                Log.Checkpointed(_logger, Path, name, rc == SqliteBusy ? 1 : 0, frames, copied);
                _metrics.Checkpointed(name, start, null);
                return (frames, copied);
            }
            Pause(start);
        }
    }

    /// <summary>Between two tries of a lock the application holds for microseconds at a time: a yield for the first millisecond, then a millisecond's sleep.</summary>
    private static void Pause(long since)
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

    private (uint, uint)? ReadWalSalts()
    {
        try
        {
            using SafeFileHandle wal = File.OpenHandle(WalPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            Span<byte> header = stackalloc byte[WalHeader.Size];
            return RandomAccess.Read(wal, header, 0) == header.Length && WalHeader.TryRead(header, out WalHeader h) ? (h.Salt1, h.Salt2) : null;
        }
        catch (FileNotFoundException)
        {
            return null;
        }
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
        Exec(_writeConn!, "INSERT INTO _litestream_seq (id, seq) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET seq = seq + 1");
    }

    private void AcquireReadLock() => BeginRead(_readConn!);

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

    /// <summary>
    /// Moves the long read transaction to the WAL's current end, never letting go of it: the other connection
    /// starts reading before this one stops, and the two swap roles. Called after our own row is written, so the
    /// WAL holds frames no checkpoint has copied yet and SQLite gives the new reader a read mark (slots 1-4).
    /// A reader that starts on a fully checkpointed WAL gets slot 0 instead (it reads the database file alone),
    /// which forbids copying any frame: the application's autocheckpoint then sorts the whole WAL on every
    /// commit and gives up, costing a writer ~4x its CPU until our next checkpoint. A read mark lets it copy
    /// frames up to the mark, cheaply, and still keeps the WAL from being restarted under us.
    /// </summary>
    private void RenewReadLock()
    {
        SqliteConnection reader = _readConn!, other = _writeConn!;
        BeginRead(other);
        RawExec(reader, "ROLLBACK");
        (_readConn, _writeConn) = (other, reader);
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

    private SqliteConnection OpenConnection()
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = Path,
            Mode = SqliteOpenMode.ReadWrite,
            Pooling = false,
            DefaultTimeout = Math.Max(1, (int)Options.BusyTimeout.TotalSeconds),
        }.ToString());
        connection.Open();
        Exec(connection, $"PRAGMA busy_timeout = {(long)Options.BusyTimeout.TotalMilliseconds}");
        Exec(connection, "PRAGMA wal_autocheckpoint = 0");
        SQLitePCL.sqlite3 handle = connection.Handle!;
        // Keep the WAL file and its content when our connections close: a restart then continues
        // incrementally instead of snapshotting.
        SQLitePCL.raw.sqlite3_db_config(handle, SqliteDbConfigNoCkptOnClose, 1, out _);
        int persist = 1;
        SqliteNative.FileControl(handle.DangerousGetHandle(), "main", SqliteFcntlPersistWal, ref persist);
        return connection;
    }

    private void RequireOpen()
    {
        if (_readConn is null)
        {
            throw new InvalidOperationException($"database not open: {Path}");
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
