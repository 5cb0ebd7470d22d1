using System.Diagnostics;
using Litestream.Logging;
using Litestream.Ltx.Wal;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace Litestream.Replication;

/// <summary>
/// Checkpoints that never lose a commit: every frame is captured before the WAL may restart, the write barrier (our
/// write lock) is held for as short a time as possible, and the restart the checkpoint leads to is accounted for so
/// the next capture continues the TXID chain instead of snapshotting. Decides when a checkpoint is due (WAL size,
/// then interval, as upstream). Not thread-safe: <see cref="Db"/> calls it under its lock.
/// </summary>
internal sealed class CheckpointProtocol(Db db, WalCapture capture, DbMetrics metrics, ILogger logger)
{
    private const int SqliteCheckpointPassive = 0;
    private const int SqliteCheckpointTruncate = 3;

    private DateTime _lastCheckpointAt = DateTime.UtcNow;

    /// <summary>
    /// The checkpoint the WAL size or the checkpoint interval calls for (upstream priority order); null when none is due.
    /// Needs no connection, so a database whose connections were let go opens them only when one is due.
    /// </summary>
    public CheckpointMode? Due()
    {
        // The captured extent of the current WAL generation, not the file length: after a restart
        // SQLite reuses the file from the start, so its length no longer says how much is pending.
        DbOptions options = db.Options;
        long walSize = capture.Position is { } pos ? pos.WalOffset + pos.WalSize : 0;
        long frameSize = WalFrameHeader.Size + db.PageSize;
        if (options.TruncatePageN > 0 && walSize >= WalHeader.Size + (frameSize * options.TruncatePageN))
        {
            return CheckpointMode.Truncate;
        }
        else if (options.MinCheckpointPageCount > 0 && walSize >= WalHeader.Size + (frameSize * options.MinCheckpointPageCount))
        {
            return CheckpointMode.Passive;
        }
        else if (options.CheckpointInterval > TimeSpan.Zero && capture.CapturedSinceCheckpoint
            && DateTime.UtcNow - _lastCheckpointAt >= options.CheckpointInterval && walSize > WalHeader.Size + frameSize)
        {
            return CheckpointMode.Passive;
        }
        return null;
    }

    /// <summary>Time until <see cref="Due"/> calls for a time-based checkpoint (zero when overdue); null while none is due.</summary>
    public TimeSpan? DueIn
    {
        get
        {
            if (db.Options.CheckpointInterval <= TimeSpan.Zero || !capture.CapturedSinceCheckpoint)
            {
                return null;
            }
            TimeSpan left = db.Options.CheckpointInterval - (DateTime.UtcNow - _lastCheckpointAt);
            return left > TimeSpan.Zero ? left : TimeSpan.Zero;
        }
    }

    /// <summary>Runs the checkpoint; false when it was deferred because the application holds the write lock.</summary>
    public bool Run(CheckpointMode mode)
    {
        (uint Salt1, uint Salt2)? before = ReadWalSalts();
        // Start and finish are logged (debug) so the crash soak can tell a kill landed inside a checkpoint.
        Log.CheckpointStarting(logger, db.Path, mode == CheckpointMode.Passive ? "PASSIVE" : "TRUNCATE");
        TimeSpan barrier = TimeSpan.Zero;
        bool applicationCommitted = false;
        if (mode == CheckpointMode.Passive)
        {
            if (!Passive(out barrier, out applicationCommitted))
            {
                return false;
            }
        }
        else
        {
            db.SyncLocked();
            DbConnections connections = db.Connections;
            connections.EndRead();
            try
            {
                _ = Checkpoint(connections.Reader, CheckpointMode.Truncate);
            }
            finally
            {
                connections.BeginRead();
            }
        }
        // A fully checkpointed WAL restarts on its next write: the application's, when it wrote since the barrier (other
        // salts), else our own row (also the first write after TRUNCATE, which leaves no header). Ours would wait for the
        // application's write lock, so it is written only when needed.
        bool ownRow = ReadWalSalts() is not { } restarted || restarted == before;
        bool restartWritten = !ownRow || TryWriteRestartRow();
        db.Connections.RenewReadLock();
        (uint Salt1, uint Salt2)? after = ReadWalSalts();
        if (after != before || !restartWritten)
        {
            if (mode == CheckpointMode.Passive)
            {
                // Busy: the application's write holds the lock and restarts the WAL itself. Either way the only restart
                // possible is the first write after this checkpoint (our read transaction pins the WAL otherwise),
                // and everything before it was captured under the write barrier.
                capture.ExpectWalRestart();
            }
            else
            {
                // Commits between the last capture and the truncate cannot be proven captured.
                capture.ForceSnapshot("checkpoint boundary snapshot");
            }
        }
        _lastCheckpointAt = DateTime.UtcNow;
        if (ownRow && restartWritten && !applicationCommitted)
        {
            // Capturing our own _litestream_seq row is no database change: without this an idle database would
            // checkpoint, write a row and ship a new transaction every checkpoint interval (upstream #896).
            db.SyncLocked();
        }
        // Else the row and the application's commits since the barrier are left to the next sync, one file: a busy
        // writer's files stay one monitor interval apart (each file is one upload and, locally and on a file replica,
        // fsyncs that a writer at synchronous=FULL waits behind). The row is still written, and the read transaction
        // moved past it: a reader that started on the fully checkpointed WAL would hold read slot 0, which makes every
        // autocheckpoint of the application sort the WAL and give up (see DbConnections.RenewReadLock). A row left
        // alone by a writer that went quiet is one more file, then the WAL is too short for a time-based checkpoint.
        capture.CheckpointFinished();
        Log.CheckpointFinished(logger, db.Path, barrier.TotalMilliseconds);
        return true;
    }

    /// <summary>
    /// Bumps the bookkeeping row after a checkpoint; false when the application held the write lock past the busy
    /// timeout (a busy machine: a writer descheduled mid-commit). The checkpoint itself is done, so that is no sync
    /// failure (upstream skips a busy checkpoint the same way); the caller accounts for the restart it did not cause.
    /// </summary>
    private bool TryWriteRestartRow()
    {
        try
        {
            db.Connections.WriteSeqRow();
            return true;
        }
        catch (SqliteException e) when (DbConnections.IsBusy(e))
        {
            Log.CheckpointRestartDeferred(logger, db.Path);
            return false;
        }
    }

    /// <summary>
    /// A passive checkpoint that leaves no commit uncaptured: the last capture and the copy of the last frames happen
    /// under a write barrier (our write lock), so the WAL can restart right after it. Everything that can happen
    /// before the barrier does, while the application keeps committing: the application waits on the barrier with
    /// SQLite's busy handler (1, 2, 5, 10 ms… sleeps), so every millisecond it lasts costs a busy writer more.
    /// False when the application held the write lock for the whole busy timeout. <paramref name="applicationCommitted"/>:
    /// a capture here wrote a file, so the application committed since the pass's own capture (a busy writer).
    /// </summary>
    private bool Passive(out TimeSpan barrier, out bool applicationCommitted)
    {
        barrier = TimeSpan.Zero;
        applicationCommitted = false;
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
        bool quick = false;
        for (int copy = 0; copy < 2 && !quick; copy++)
        {
            long copyStart = Stopwatch.GetTimestamp();
            db.Connections.RenewReadLock();
            _ = Checkpoint(db.Connections.Writer, CheckpointMode.Passive);
            quick = Stopwatch.GetElapsedTime(copyStart) < TimeSpan.FromMilliseconds(5);
        }
        if (!quick)
        {
            // Capture what was committed during a long copy, so the barrier only has the last moments' commits to
            // capture. After a quick one the barrier's capture takes them: one file (and its fsyncs) fewer.
            applicationCommitted = db.SyncLocked();
        }
        DbConnections connections = db.Connections;
        if (!connections.TryBeginImmediate())
        {
            Log.CheckpointDeferred(logger, db.Path);
            return false;
        }
        long start = Stopwatch.GetTimestamp();
        try
        {
            // Until nothing is left: one capture stops at MaxSyncWalBytes, and frames left past it would be lost to the
            // restart. The application cannot commit meanwhile, so the last try finds nothing.
            while (db.SyncLocked())
            {
                applicationCommitted = true;
            }
            connections.EndRead();
            try
            {
                // The application cannot commit now, but its autocheckpoint from before the barrier may still hold the
                // checkpoint lock: it ends soon, then ours copies the rest.
                _ = Checkpoint(connections.Reader, CheckpointMode.Passive);
            }
            finally
            {
                connections.BeginRead();
            }
        }
        finally
        {
            connections.EndImmediate();
            barrier = Stopwatch.GetElapsedTime(start);
        }
        return true;
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
        long deadline = start + (long)(db.Options.BusyTimeout.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            int rc = SQLitePCL.raw.sqlite3_wal_checkpoint_v2(handle, "main", sqliteMode, out int frames, out int copied);
            bool lockBusy = rc == DbConnections.SqliteBusy && frames < 0;
            if (!lockBusy || Stopwatch.GetTimestamp() >= deadline)
            {
                string name = mode == CheckpointMode.Passive ? "PASSIVE" : "TRUNCATE";
                if (rc is not (DbConnections.SqliteOk or DbConnections.SqliteBusy))
                {
                    try
                    {
                        SqliteException.ThrowExceptionForRC(rc, handle);
                    }
                    catch (SqliteException e)
                    {
                        metrics.Checkpointed(name, start, e);
                        throw;
                    }
                }
                Log.Checkpointed(logger, db.Path, name, rc == DbConnections.SqliteBusy ? 1 : 0, frames, copied);
                metrics.Checkpointed(name, start, null);
                return (frames, copied);
            }
            DbConnections.Pause(start);
        }
    }

    private (uint, uint)? ReadWalSalts()
    {
        try
        {
            using SafeFileHandle wal = File.OpenHandle(db.WalPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            Span<byte> header = stackalloc byte[WalHeader.Size];
            return RandomAccess.Read(wal, header, 0) == header.Length && WalHeader.TryRead(header, out WalHeader h) ? (h.Salt1, h.Salt2) : null;
        }
        catch (FileNotFoundException)
        {
            return null;
        }
    }
}
