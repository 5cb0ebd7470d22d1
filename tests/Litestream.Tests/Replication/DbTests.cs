using Litestream.Ltx;
using Litestream.Replication;
using Litestream.Restore;
using Litestream.Storage.File;
using Microsoft.Data.Sqlite;

namespace Litestream.Tests.Replication;

/// <summary>Db on its own (no replica): change detection, local state, checkpoints. Writes come from python3.</summary>
[Requires(Need.Python)]
public class DbTests
{
    private static void Write(string db, int rows) => SqliteWriter.Write(db, rows);

    private static string NewDatabase(int rows)
    {
        string path = Path.Combine(TestRepo.TempDir(), "app.db");
        Write(path, rows);
        return path;
    }

    [RequiresFact]
    public async Task Sync_CommitKeepsWalLengthAndModificationTime_IsStillCaptured()
    {
        // File systems stamp modification times from a coarse clock, and a restarted WAL is rewritten in
        // place, so a commit right after a sync can leave (length, mtime) exactly as the sync saw them.
        string path = NewDatabase(300);
        await using var db = new Db(path);
        db.Open();
        Assert.True(db.Sync());
        db.Checkpoint(CheckpointMode.Passive); // restarts the WAL: later frames overwrite it from the start
        Assert.False(db.Sync());
        var wal = new FileInfo(db.WalPath);
        (long length, DateTime modified) = (wal.Length, wal.LastWriteTimeUtc);
        Txid before = db.Txid;

        Write(path, 1);
        File.SetLastWriteTimeUtc(db.WalPath, modified); // the same clock tick as the sync's look
        wal.Refresh();
        Assert.Equal((length, modified), (wal.Length, wal.LastWriteTimeUtc));

        Assert.True(db.Sync());
        Assert.Equal(new Txid(before.Value + 1), db.Txid);
    }

    [RequiresFact]
    public async Task Sync_IdleWal_WritesNothing()
    {
        string path = NewDatabase(5);
        await using var db = new Db(path);
        db.Open();
        Assert.True(db.Sync());
        for (int i = 0; i < 5; i++)
        {
            Assert.False(db.Sync());
        }
        Assert.Equal([LtxFileName.Format(new Txid(1), new Txid(1))], Directory.GetFiles(db.L0Directory).Select(Path.GetFileName));
    }

    [RequiresFact]
    public async Task Open_DamagedNewestL0_ThrowsLocalStateExceptionUntilReset()
    {
        string path = NewDatabase(20);
        string newest;
        await using (var db = new Db(path))
        {
            db.Open();
            db.Sync();
            Write(path, 5);
            db.Sync();
            newest = db.L0FilePath(db.Txid);
        }
        using (FileStream f = File.OpenWrite(newest))
        {
            f.SetLength(60); // shorter than an LTX header
        }

        await using (var db = new Db(path))
        {
            LocalStateException e = Assert.Throws<LocalStateException>(db.Open);
            Assert.Equal(newest, e.Path);
            Assert.Contains("auto-recover", e.Hint);
            Assert.False(db.IsOpen);

            db.ResetLocalState();
            db.Open();
            Assert.Null(db.Position);
            Assert.True(db.Sync());
            LtxHeader header = db.Position!.Value;
            Assert.Equal((new Txid(1), new Txid(1)), (header.MinTxid, header.MaxTxid));
            Assert.Equal(PageCount(path), header.Commit);
        }
    }

    [RequiresFact]
    public async Task ResetLocalState_WithCallback_ReportsEachLtxFileItDeletes()
    {
        string path = NewDatabase(20);
        await using var db = new Db(path);
        db.Open();
        db.Sync();
        Write(path, 5);
        db.Sync();
        FileInfo[] files = new DirectoryInfo(Path.Combine(db.MetaPath, "ltx")).GetFiles("*", SearchOption.AllDirectories);
        Assert.True(files.Length >= 2, $"{files.Length} L0 files");
        var removed = new List<long>();
        db.ResetLocalState(removed.Add);
        Assert.Equal(files.Select(f => f.Length).Order(), removed.Order());
        Assert.Empty(Directory.GetFiles(Path.Combine(db.MetaPath, "ltx"), "*", SearchOption.AllDirectories));
        Assert.Null(db.Position);
    }

    [RequiresFact]
    public async Task Open_NotAnSqliteDatabase_NamesItAndLeavesNoMetaDirectory()
    {
        // Issue 18: a path that is not SQLite left an empty ".notes.txt-litestream" behind.
        string dir = TestRepo.TempDir();
        string path = Path.Combine(dir, "notes.txt");
        File.WriteAllText(path, "not a database\n");
        var db = new Db(path);
        InvalidDataException e = Assert.Throws<InvalidDataException>(db.Open);
        Assert.Equal("not an SQLite database (SQLite Error 26: 'file is not a database'.)", e.Message);
        Assert.True(Directory.Exists(db.MetaPath)); // held (locked) while the Db lives: the daemon retries the open
        await db.DisposeAsync();
        Assert.Equal(["notes.txt"], Directory.GetFileSystemEntries(dir).Select(Path.GetFileName));
    }

    [RequiresFact]
    public async Task Dispose_NeverOpenedButMetaDirectoryWasThere_KeepsIt()
    {
        string dir = TestRepo.TempDir();
        string path = Path.Combine(dir, "notes.txt");
        File.WriteAllText(path, "not a database\n");
        var db = new Db(path);
        Directory.CreateDirectory(db.MetaPath);
        Assert.Throws<InvalidDataException>(db.Open);
        await db.DisposeAsync();
        Assert.True(Directory.Exists(db.MetaPath));
    }

    [RequiresFact]
    public async Task Open_DatabaseAnotherDbReplicates_ThrowsDatabaseLockedExceptionUntilItIsDisposed()
    {
        string path = NewDatabase(5);
        var first = new Db(path);
        first.Open();
        Assert.True(first.Sync());
        string[] metaFiles = Directory.GetFiles(first.MetaPath, "*", SearchOption.AllDirectories);

        await using var second = new Db(path);
        DatabaseLockedException e = Assert.Throws<DatabaseLockedException>(second.Open);
        Assert.Equal($"{first.Path} is already replicated by pid {Environment.ProcessId}", e.Message);
        Assert.Equal(Environment.ProcessId, e.OwnerPid);
        Assert.False(second.IsOpen);
        Assert.Throws<DatabaseLockedException>(second.ResetLocalState);
        Assert.Equal(metaFiles, Directory.GetFiles(first.MetaPath, "*", SearchOption.AllDirectories)); // nothing of the first's touched

        await first.DisposeAsync();
        second.Open();
        Assert.Equal(new Txid(1), second.Txid);
    }

    [RequiresFact]
    public async Task Open_AfterRestartWhileTheApplicationKeepsWriting_ResumesWithoutSnapshot()
    {
        string path = NewDatabase(50);
        // The application keeps its connection open across the replicator's restart, so nobody
        // checkpoints the WAL away on close.
        using var app = new SqliteConnection($"Data Source={path};Pooling=False");
        app.Open();
        await using (var db = new Db(path))
        {
            db.Open();
            db.Sync();
            Exec(app, "INSERT INTO t(v) VALUES ('while running')");
            db.Sync();
        }
        for (int i = 0; i < 10; i++)
        {
            Exec(app, $"INSERT INTO t(v) VALUES ('while stopped {i}')");
        }
        await using (var db = new Db(path))
        {
            db.Open();
            Assert.Equal(new Txid(2), db.Txid);
            Assert.True(db.Sync());
            LtxHeader header = db.Position!.Value;
            Assert.Equal(new Txid(3), header.MaxTxid);
            // Incremental: the WAL continues where txid 2 ended, not from its first frame.
            Assert.True(header.WalOffset > 32, $"wal offset {header.WalOffset}");
            Assert.True(CountPages(db.L0FilePath(header.MaxTxid)) < PageCount(path), "wrote a snapshot");
        }
    }

    /// <summary>
    /// Stopped while the application keeps committing, checkpoints and starts a new WAL generation (a deploy, a
    /// restart of the replicator): the commits before the restart are still in the old generation's frames past the
    /// new one, so they are captured as a delta and the new generation continues from its first frame. No snapshot:
    /// before, every such restart uploaded the whole database again (issue 22).
    /// </summary>
    [RequiresFact]
    public async Task Sync_ApplicationRestartedTheWalWhileStopped_ContinuesWithDeltas()
    {
        string path = NewDatabase(200);
        using var app = new SqliteConnection($"Data Source={path};Pooling=False");
        app.Open();
        LtxHeader stopped = await SyncAndStop(path, app);
        for (int i = 0; i < 20; i++)
        {
            Exec(app, $"INSERT INTO t(v) VALUES ('before the restart {i}')");
        }
        Exec(app, "PRAGMA wal_checkpoint(PASSIVE)");
        Exec(app, "INSERT INTO t(v) VALUES ('first of the new generation')");
        Exec(app, "INSERT INTO t(v) VALUES ('second of the new generation')");
        await using (var db = new Db(path))
        {
            db.Open();
            Assert.True(db.Sync());
            string tail = db.L0FilePath(new Txid(stopped.MaxTxid.Value + 1));
            LtxHeader tailHeader = ReadHeader(tail);
            Assert.Equal((stopped.WalSalt1, stopped.WalSalt2), (tailHeader.WalSalt1, tailHeader.WalSalt2));
            Assert.Equal(stopped.WalOffset + stopped.WalSize, tailHeader.WalOffset);
            LtxHeader next = db.Position!.Value;
            Assert.Equal(stopped.MaxTxid.Value + 2, next.MaxTxid.Value);
            Assert.Equal(stopped.WalSalt1 + 1, next.WalSalt1);
            Assert.Equal(32, next.WalOffset);
            Assert.True(CountPages(tail) < PageCount(path) && CountPages(db.L0FilePath(next.MaxTxid)) < PageCount(path), "wrote a snapshot");
            Assert.Equal(SqliteWriter.Dump(path), await RestoreLocalDump(db));
        }
    }

    [RequiresFact]
    public async Task Sync_ApplicationRestartedTheWalTwiceWhileStopped_WritesFullSnapshot()
    {
        // The first restart's generation is overwritten by the second: what it held cannot be proven captured.
        string path = NewDatabase(200);
        using var app = new SqliteConnection($"Data Source={path};Pooling=False");
        app.Open();
        LtxHeader stopped = await SyncAndStop(path, app);
        for (int restart = 0; restart < 2; restart++)
        {
            Exec(app, $"INSERT INTO t(v) VALUES ('generation {restart}')");
            Exec(app, "PRAGMA wal_checkpoint(PASSIVE)");
        }
        Exec(app, "INSERT INTO t(v) VALUES ('last generation')");
        await AssertNextSyncIsSnapshot(path, stopped, $"salt-1 {stopped.WalSalt1 + 2:x8} is not the position's {stopped.WalSalt1:x8} + 1 (another wal file, or more than one restart)");
    }

    [RequiresFact]
    public async Task Sync_NewGenerationOverwroteThePositionsLastFrame_WritesFullSnapshot()
    {
        // Stopped long enough that the application's new generation, written from the start of the file, reached the
        // frame we stopped at: the commits after it are in the database file only, and cannot be told apart.
        string path = NewDatabase(200);
        using var app = new SqliteConnection($"Data Source={path};Pooling=False");
        app.Open();
        LtxHeader stopped = await SyncAndStop(path, app);
        Exec(app, "INSERT INTO t(v) VALUES ('before the restart')");
        Exec(app, "PRAGMA wal_checkpoint(PASSIVE)");
        long frames = (stopped.WalOffset + stopped.WalSize - 32) / (24 + stopped.PageSize);
        for (int i = 0; i <= frames; i++)
        {
            Exec(app, $"INSERT INTO t(v) VALUES ('new generation {i}')"); // one frame each at least
        }
        long last = stopped.WalOffset + stopped.WalSize - (24 + stopped.PageSize);
        await AssertNextSyncIsSnapshot(path, stopped, $"the position's last frame is gone: prev frame mismatch: frame at offset {last} has salts {stopped.WalSalt1 + 1:x8}/");
    }

    [RequiresFact]
    public async Task Sync_WalCutByJournalSizeLimitAtTheRestart_WritesFullSnapshot()
    {
        // journal_size_limit truncates the WAL at a restart: the old generation's later frames are gone, so the
        // commits between our position and the restart cannot be read. A byte limit leaves a partial frame.
        string path = NewDatabase(200);
        using var app = new SqliteConnection($"Data Source={path};Pooling=False");
        app.Open();
        LtxHeader stopped = await SyncAndStop(path, app);
        for (int i = 0; i < 20; i++)
        {
            Exec(app, $"INSERT INTO t(v) VALUES ('cut off {i}')");
        }
        Exec(app, "PRAGMA wal_checkpoint(PASSIVE)");
        Exec(app, $"PRAGMA journal_size_limit = {stopped.WalOffset + stopped.WalSize + 1000}");
        Exec(app, "INSERT INTO t(v) VALUES ('after the cut')");
        await AssertNextSyncIsSnapshot(path, stopped, $"the wal is {stopped.WalOffset + stopped.WalSize + 1000} bytes, not whole frames (cut at the restart)");
    }

    /// <summary>Replicates <paramref name="path"/> (snapshot and one delta written by <paramref name="app"/>) and stops; returns the last position.</summary>
    private static async Task<LtxHeader> SyncAndStop(string path, SqliteConnection app)
    {
        await using var db = new Db(path);
        db.Open();
        db.Sync();
        for (int i = 0; i < 5; i++)
        {
            Exec(app, $"INSERT INTO t(v) VALUES ('while running {i}')");
        }
        Assert.True(db.Sync());
        return db.Position!.Value;
    }

    /// <summary>The next sync writes a full snapshot, and its reason says which proof of a continuation failed (<paramref name="notContinued"/>, a prefix).</summary>
    private static async Task AssertNextSyncIsSnapshot(string path, LtxHeader stopped, string notContinued)
    {
        var log = new CapturingLogger();
        await using var db = new Db(path, logger: log);
        db.Open();
        Assert.True(db.Sync());
        Assert.True(log.Lines.Any(l => l.Contains($"reason: wal header salt reset (not continued: {notContinued}", StringComparison.Ordinal)), string.Join('\n', log.Lines));
        LtxHeader header = db.Position!.Value;
        Assert.Equal(stopped.MaxTxid.Value + 1, header.MaxTxid.Value);
        Assert.Equal((int)header.Commit, CountPages(db.L0FilePath(header.MaxTxid)));
        Assert.Equal(SqliteWriter.Dump(path), await RestoreLocalDump(db));
    }

    /// <summary>Restores the Db's local L0 files (laid out as a file replica) and dumps the result.</summary>
    private static async Task<string> RestoreLocalDump(Db db)
    {
        string output = Path.Combine(Path.GetDirectoryName(db.Path)!, $"restored-{Guid.NewGuid():N}.db");
        await Restorer.RestoreAsync(new FileReplicaClient(db.MetaPath), new RestoreOptions { OutputPath = output }, default);
        return SqliteWriter.Dump(output);
    }

    private static LtxHeader ReadHeader(string ltxFile)
    {
        using var decoder = new LtxDecoder(File.OpenRead(ltxFile));
        return decoder.DecodeHeader();
    }

    [RequiresFact]
    public async Task Sync_WalTruncatedByAnotherProcessWhileStopped_WritesFullSnapshot()
    {
        string path = NewDatabase(50);
        using var app = new SqliteConnection($"Data Source={path};Pooling=False");
        app.Open();
        await using (var db = new Db(path))
        {
            db.Open();
            db.Sync();
        }
        Exec(app, "INSERT INTO t(v) VALUES ('lost unless snapshotted')");
        Exec(app, "PRAGMA wal_checkpoint(TRUNCATE)");
        Exec(app, "INSERT INTO t(v) VALUES ('after truncate')");
        await using (var db = new Db(path))
        {
            db.Open();
            Assert.True(db.Sync());
            LtxHeader header = db.Position!.Value;
            Assert.Equal(new Txid(2), header.MaxTxid);
            Assert.Equal(PageCount(path), header.Commit);
            Assert.Equal((int)header.Commit, CountPages(db.L0FilePath(header.MaxTxid)));
        }
    }

    [RequiresFact]
    public async Task CheckpointIfNeeded_WalPastMinPageCount_RestartsWalAndContinuesIncrementally()
    {
        string path = NewDatabase(10);
        await using var db = new Db(path, new DbOptions { MinCheckpointPageCount = 50 });
        db.Open();
        db.Sync();
        Write(path, 200);
        db.Sync();
        LtxHeader beforeCheckpoint = db.Position!.Value;
        Assert.True(beforeCheckpoint.WalOffset + beforeCheckpoint.WalSize >= 32 + (50 * (24 + db.PageSize)));

        db.CheckpointIfNeeded();
        LtxHeader afterCheckpoint = db.Position!.Value;
        Assert.Equal(beforeCheckpoint.MaxTxid.Value + 1, afterCheckpoint.MaxTxid.Value);
        Assert.NotEqual((beforeCheckpoint.WalSalt1, beforeCheckpoint.WalSalt2), (afterCheckpoint.WalSalt1, afterCheckpoint.WalSalt2));
        Assert.Equal(32, afterCheckpoint.WalOffset);
        // Only the bookkeeping row's pages, not a snapshot of the database.
        long pages = new FileInfo(path).Length / db.PageSize;
        Assert.True(CountPages(db.L0FilePath(afterCheckpoint.MaxTxid)) < pages, "the post-checkpoint file is a snapshot");
    }

    [Fact]
    public async Task Checkpoint_ApplicationCheckpointsAfterwards_CopiesUpToOurReadMark()
    {
        // After our checkpoint the long read transaction holds a read mark on the WAL (at our own row), not SQLite's
        // slot 0 (the database file alone): a slot-0 reader forbids copying any frame, so the application's
        // autocheckpoint would sort the whole WAL on every commit and give up, until our next checkpoint.
        string path = NewDatabase(10);
        await using var db = new Db(path);
        db.Open();
        db.Sync();
        Write(path, 50);
        db.Sync();
        db.Checkpoint(CheckpointMode.Passive);
        Write(path, 50);
        // "checkpoint PASSIVE <busy> <log frames> <checkpointed frames>", then the (empty) summary.
        string[] result = SqliteWriter.Write(path, new Workload { Checkpoint = "PASSIVE" }).Split('\n')[0].Split(' ');
        Assert.Equal(["checkpoint", "PASSIVE"], result[..2]);
        (int busy, int frames, int copied) = (int.Parse(result[2]), int.Parse(result[3]), int.Parse(result[4]));
        Assert.Equal(0, busy);
        Assert.True(copied > 0 && copied < frames, $"the application's checkpoint copied {copied} of {frames} frames (0: we hold slot 0; all: we hold nothing)");
        Assert.True(db.Sync());
    }

    [Fact]
    public async Task Open_WithoutWal_HoldsAReadMark()
    {
        // The application's last connection deleted the WAL at its close (a TRUNCATE checkpoint leaves none either): a
        // read transaction started on no WAL holds SQLite's slot 0 until our first checkpoint, and the application's
        // autocheckpoint past 1000 frames then sorts the whole WAL on every commit and gives up (~5x a commit's CPU).
        // Our own row is written before the read transaction starts, so it holds a read mark instead.
        string path = NewDatabase(10);
        await using (var first = new Db(path))
        {
            first.Open(); // our tables: a later open writes no frame of its own for them
            first.Sync();
        }
        Write(path, 1);
        Assert.False(File.Exists(path + "-wal"), "the writer's close, the last connection's, deletes the WAL");
        await using var db = new Db(path);
        db.Open();
        db.Sync();
        Write(path, 50);
        string[] result = SqliteWriter.Write(path, new Workload { Checkpoint = "PASSIVE" }).Split('\n')[0].Split(' ');
        Assert.Equal(["checkpoint", "PASSIVE"], result[..2]);
        (int busy, int frames, int copied) = (int.Parse(result[2]), int.Parse(result[3]), int.Parse(result[4]));
        Assert.Equal(0, busy);
        Assert.True(copied > 0 && copied < frames, $"the application's checkpoint copied {copied} of {frames} frames (0: we hold slot 0; all: we hold nothing)");
        Assert.True(db.Sync());
    }

    private static void Exec(SqliteConnection connection, string sql)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static uint PageCount(string path) => uint.Parse(SqliteWriter.Scalar(path, "PRAGMA page_count"));

    private static int CountPages(string ltxFile)
    {
        using var decoder = new LtxDecoder(File.OpenRead(ltxFile));
        LtxHeader header = decoder.DecodeHeader();
        byte[] page = new byte[header.PageSize];
        int count = 0;
        while (decoder.TryDecodePage(page, out _))
        {
            count++;
        }
        decoder.Close();
        return count;
    }
}
