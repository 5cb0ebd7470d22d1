using System.Buffers;
using Litestream.Internal;
using Litestream.Logging;
using Litestream.Ltx;
using Litestream.Ltx.Wal;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace Litestream.Replication;

/// <summary>
/// Turns newly committed WAL frames into the next L0 file (temp file, fsync, rename, directory fsync; TXID = previous
/// + 1) and keeps the local position: the newest L0 file's header, whose WAL offset, size and salts say where the next
/// capture starts. Decides when the next file must be a snapshot (every page) instead of a delta. Not thread-safe:
/// <see cref="Db"/> calls it under its lock.
/// </summary>
internal sealed class WalCapture(Db db, DbMetrics metrics, ILogger logger)
{
    private bool _forceSnapshot;
    private string? _forceSnapshotReason;
    private bool _walRestartExpected;
    private string? _notContinued; // why the last WAL restart could not be continued across (in the snapshot's reason)

    /// <summary>Header of the newest local L0 file; null before the first capture.</summary>
    public LtxHeader? Position { get; private set; }

    /// <summary>Time of the last capture that wrote a file.</summary>
    public DateTimeOffset? LastSyncAt { get; private set; }

    /// <summary>True when a file was captured since the last <see cref="CheckpointFinished"/>.</summary>
    public bool CapturedSinceCheckpoint { get; private set; }

    /// <summary>Makes the next capture a snapshot, for <paramref name="reason"/> (logged with it).</summary>
    public void ForceSnapshot(string reason)
    {
        _forceSnapshot = true;
        _forceSnapshotReason = reason;
    }

    /// <summary>
    /// The newest TXID this opening did not capture itself: the position loaded at open, or the one a reset put in
    /// place (see <see cref="Db.InheritedTxid"/>).
    /// </summary>
    public Txid Inherited { get; private set; }

    /// <summary>Replaces the position (null: none) and makes the next capture a snapshot at the TXID after it.</summary>
    public void Reset(LtxHeader? position, string reason)
    {
        Position = position;
        Inherited = position?.MaxTxid ?? Txid.Zero;
        ForceSnapshot(reason);
    }

    /// <summary>Takes the position from the newest local L0 file (at open).</summary>
    public void Load(LtxHeader? position)
    {
        Position = position;
        Inherited = position?.MaxTxid ?? Txid.Zero;
    }

    /// <summary>
    /// The next WAL restart is one our own checkpoint caused, after capturing every commit under the write barrier:
    /// the new generation continues from its first frame instead of forcing a snapshot.
    /// </summary>
    public void ExpectWalRestart() => _walRestartExpected = true;

    /// <summary>
    /// The connections are let go with everything captured: a restart from now on may be anyone's, so it must prove
    /// itself (<see cref="ContinueAcrossWalRestart"/>) instead of being taken for the one our checkpoint led to.
    /// </summary>
    public void ForgetExpectedRestart() => _walRestartExpected = false;

    /// <summary>A checkpoint finished: time-based checkpoints wait for the next capture.</summary>
    public void CheckpointFinished() => CapturedSinceCheckpoint = false;

    /// <summary>
    /// Whether a capture could find anything, judged from the WAL file alone (no connection, no read transaction): used
    /// while the database's connections are let go (<see cref="DbOptions.IdleConnectionTimeout"/>). Anything it cannot
    /// rule out says yes, and the connections are opened again for a real capture, which checks salts and the checksum
    /// chain as always: a snapshot is pending, the WAL is another file than <paramref name="walId"/> (deleted and made
    /// again), shorter than the captured end, carries other salts (restarted), or holds a frame of the captured
    /// generation (its salts) right after the captured end (a new commit, or one being written).
    /// </summary>
    public bool MayHaveChanged((ulong Device, ulong Inode)? walId)
    {
        if (_forceSnapshot || Position is not { } pos)
        {
            return true;
        }
        if (FileUtil.FileId(db.WalPath) is not { } id)
        {
            return File.Exists(db.Path); // a database deleted with its WAL has nothing more to capture
        }
        if (id != walId)
        {
            return true;
        }
        try
        {
            using SafeFileHandle wal = File.OpenHandle(db.WalPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            long end = pos.WalOffset + pos.WalSize;
            Span<byte> header = stackalloc byte[WalHeader.Size];
            if (RandomAccess.GetLength(wal) < end || RandomAccess.Read(wal, header, 0) != header.Length
                || !WalHeader.TryRead(header, out WalHeader walHeader) || (walHeader.Salt1, walHeader.Salt2) != (pos.WalSalt1, pos.WalSalt2))
            {
                return true;
            }
            Span<byte> frame = stackalloc byte[WalFrameHeader.Size];
            return RandomAccess.Read(wal, frame, end) == frame.Length && WalFrameHeader.TryRead(frame, out WalFrameHeader next)
                && (next.Salt1, next.Salt2) == (pos.WalSalt1, pos.WalSalt2);
        }
        catch (FileNotFoundException)
        {
            return File.Exists(db.Path);
        }
    }

    /// <summary>
    /// Captures what was committed since the position into the next L0 file; true when a file was written. With
    /// <paramref name="continuingOnly"/> nothing is written when the capture would have to be a snapshot (it is left
    /// to the next capture).
    /// </summary>
    public bool Capture(SafeFileHandle database, bool continuingOnly = false)
    {
        SafeFileHandle wal;
        try
        {
            wal = File.OpenHandle(db.WalPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        }
        catch (FileNotFoundException)
        {
            return false;
        }
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
            if (walHeader.PageSize != db.PageSize)
            {
                throw new InvalidDataException($"wal page size {walHeader.PageSize} does not match database page size {db.PageSize}");
            }

            if (!_walRestartExpected && !_forceSnapshot && Position is { } last && (walHeader.Salt1, walHeader.Salt2) != (last.WalSalt1, last.WalSalt2))
            {
                _notContinued = ContinueAcrossWalRestart(last, walHeader, wal, database);
                _walRestartExpected = _notContinued is null;
            }
            (long offset, string? snapshotReason) = Verify(walHeader, RandomAccess.GetLength(wal));
            bool snapshot = snapshotReason is not null;
            if (snapshot && continuingOnly)
            {
                return false;
            }
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
                        if (continuingOnly)
                        {
                            return false;
                        }
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
                WalPageMap map = frames.ReadPageMap(snapshot ? long.MaxValue : db.Options.MaxSyncWalBytes);
                if (!snapshot && map.Commit == 0)
                {
                    return false;
                }
                uint commit = map.Commit != 0 ? map.Commit : checked((uint)(RandomAccess.GetLength(database) / db.PageSize));
                long walSize = map.MaxOffset != 0 ? map.MaxOffset - offset : 0;
                (LtxHeader header, int pages) = CaptureNext(map, commit, offset, walSize, walHeader.Salt1, walHeader.Salt2, wal, database, snapshot);
                _forceSnapshot = false;
                _forceSnapshotReason = null;
                _walRestartExpected = false;
                _notContinued = null;
                if (snapshot)
                {
                    Log.Snapshot(logger, db.Path, header.MaxTxid.ToString(), commit, snapshotReason!);
                }
                else
                {
                    Log.Synced(logger, db.Path, header.MaxTxid.ToString(), pages, offset, walSize);
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
    /// Returns null when the old generation's tail is captured (or was empty): the new generation then continues from
    /// its first frame; else which of these does not hold, for the snapshot's reason.
    /// </summary>
    private string? ContinueAcrossWalRestart(LtxHeader last, WalHeader walHeader, SafeFileHandle wal, SafeFileHandle database)
    {
        long end = last.WalOffset + last.WalSize;
        long frameSize = WalFrameHeader.Size + db.PageSize;
        long fileSize = RandomAccess.GetLength(wal);
        if (walHeader.Salt1 != unchecked(last.WalSalt1 + 1))
        {
            return $"salt-1 {walHeader.Salt1:x8} is not the position's {last.WalSalt1:x8} + 1 (another wal file, or more than one restart)";
        }
        if (end <= WalHeader.Size)
        {
            return "the position is at the wal's start";
        }
        if ((fileSize - WalHeader.Size) % frameSize != 0)
        {
            return $"the wal is {fileSize} bytes, not whole frames (cut at the restart)";
        }
        WalReader? tail;
        try
        {
            tail = WalReader.OpenAt(wal, end, last.WalSalt1, last.WalSalt2);
        }
        catch (WalPrevFrameMismatchException e)
        {
            return $"the position's last frame is gone: {e.Message}";
        }
        if (tail is null)
        {
            return "no wal header";
        }
        using (tail)
        {
            WalPageMap map = tail.ReadPageMap();
            if (tail.Checksum != tail.CommitChecksum)
            {
                return "an unfinished transaction follows the position"; // not the state the restart began from
            }
            if (map.Commit == 0)
            {
                return null; // nothing was committed between our position and the restart
            }
            uint lockPgno = LtxConstants.LockPgno(db.PageSize);
            for (uint pgno = last.Commit + 1; pgno <= map.Commit; pgno++)
            {
                if (pgno != lockPgno && !map.Pages.ContainsKey(pgno))
                {
                    return $"page {pgno}, which the database grew by, is not in the old generation's frames";
                }
            }
            (LtxHeader header, int pages) = CaptureNext(map, map.Commit, end, map.MaxOffset - end, last.WalSalt1, last.WalSalt2, wal, database, snapshot: false);
            Log.ContinuedAcrossWalRestart(logger, db.Path, header.MaxTxid.ToString(), pages);
            return null;
        }
    }

    /// <summary>
    /// Writes the next L0 file (TXID + 1) from <paramref name="map"/>'s frames of the WAL generation with these salts,
    /// and makes it the local position.
    /// </summary>
    private (LtxHeader Header, int Pages) CaptureNext(WalPageMap map, uint commit, long walOffset, long walSize, uint salt1, uint salt2, SafeFileHandle wal, SafeFileHandle database, bool snapshot)
    {
        Txid next = new((Position?.MaxTxid ?? Txid.Zero).Value + 1);
        var header = new LtxHeader
        {
            Flags = LtxConstants.HeaderFlagNoChecksum,
            PageSize = db.PageSize,
            Commit = commit,
            MinTxid = next,
            MaxTxid = next,
            Timestamp = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            WalOffset = walOffset,
            WalSize = walSize,
            WalSalt1 = salt1,
            WalSalt2 = salt2,
            NodeId = db.NodeId,
        };
        int pages = WriteL0(header, new WalPageSource(map, wal, database, db.PageSize), snapshot);
        metrics.WalCaptured(walSize);
        Position = header;
        CapturedSinceCheckpoint = true;
        LastSyncAt = DateTimeOffset.UtcNow;
        db.Captures.Add(header.MaxTxid, LastSyncAt.Value);
        return (header, pages);
    }

    /// <summary>Decides where the next capture starts in the WAL and whether it must be a snapshot (upstream <c>verify</c>).</summary>
    private (long Offset, string? SnapshotReason) Verify(WalHeader walHeader, long walFileSize)
    {
        if (Position is not { } pos)
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
            return _walRestartExpected ? (WalHeader.Size, null)
                : (WalHeader.Size, _notContinued is null ? "wal header salt reset" : $"wal header salt reset (not continued: {_notContinued})");
        }
        long offset = pos.WalOffset + pos.WalSize;
        if (offset > walFileSize)
        {
            return (WalHeader.Size, "wal truncated by another process");
        }
        return (offset, null);
    }

    private int WriteL0(LtxHeader header, WalPageSource pages, bool snapshot)
    {
        string final = db.L0FilePath(header.MaxTxid);
        string temp = final + ".tmp";
        byte[] page = ArrayPool<byte>.Shared.Rent((int)db.PageSize);
        try
        {
            int count;
            using (var output = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 64 * 1024))
            using (var encoder = new LtxEncoder(output, leaveOpen: true))
            {
                encoder.EncodeHeader(header);
                Span<byte> buffer = page.AsSpan(0, (int)db.PageSize);
                count = snapshot
                    ? pages.EncodeAll(encoder, header.Commit, buffer)
                    : pages.EncodeChanged(encoder, Position?.Commit ?? 0, header.Commit, buffer);
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
}
