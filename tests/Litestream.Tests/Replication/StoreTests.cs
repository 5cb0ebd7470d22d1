using System.Globalization;
using System.Diagnostics;
using Litestream.Ltx;
using Litestream.Replication;
using Litestream.Restore;
using Litestream.Storage.File;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace Litestream.Tests.Replication;

/// <summary>The Store's loops in-process (monitor, upload, shutdown flush, auto-recover) against a file replica.</summary>
[Requires(Need.Python)]
public class StoreTests
{
    internal static readonly DbOptions s_fastDb = new() { MonitorInterval = TimeSpan.FromMilliseconds(100), MinCheckpointPageCount = 100 };

    internal static readonly ReplicaOptions s_fastReplica = new() { SyncInterval = TimeSpan.FromMilliseconds(100) };

    private static void Write(string db, int rows) => SqliteWriter.Write(db, new Workload { Commits = rows, Pad = 700 });

    internal static async Task<string> RestoreDump(FileReplicaClient client, string dir)
    {
        string output = Path.Combine(dir, $"restored-{Guid.NewGuid():N}.db");
        await Restorer.RestoreAsync(client, new RestoreOptions { OutputPath = output }, default);
        return SqliteWriter.Dump(output);
    }

    [RequiresFact]
    public async Task RunAsync_CancelRightAfterLastCommit_FinalSyncShipsEverything()
    {
        string dir = TestRepo.TempDir();
        string path = Path.Combine(dir, "app.db");
        Write(path, 10);
        var client = new FileReplicaClient(Path.Combine(dir, "replica"));
        var store = new Store([new Replica(new Db(path, s_fastDb), client, s_fastReplica)]);
        using var stop = new CancellationTokenSource();
        Task run = store.RunAsync(stop.Token);
        string firstRemote = client.LtxFilePath(0, new Txid(1), new Txid(1));
        await Wait.UntilAsync(() => File.Exists(firstRemote), "the first sync to reach the replica");

        Write(path, 3000); // ~1000 WAL pages: several checkpoints while the loops run
        await stop.CancelAsync();
        await run;

        Assert.Equal(0, store.ErrorCount);
        string expected = SqliteWriter.Dump(path);
        Assert.StartsWith("ok 3010 ", expected);
        Assert.Equal(expected, await RestoreDump(client, dir));
    }

    [RequiresFact]
    public async Task RunAsync_DatabaseFileOpenedAndClosedElsewhereInTheProcess_LastCommitsOfAnotherProcessStillShipped()
    {
        // Closing any descriptor of a file drops every POSIX lock the process holds on it, SQLite's SHARED lock of
        // the replicator's connections included. Another process's last connection then closes with the EXCLUSIVE
        // lock: it checkpoints the whole WAL past our read mark and deletes it, so its last commits never pass
        // through a WAL we read. The directory watcher's header probe did exactly that (issue 21). Since the Db holds an
        // open file description lock on SQLite's SHARED range (SqliteSharedLock), which no other descriptor's close
        // drops, the writer's close cannot take the EXCLUSIVE lock: its WAL stays, and its commits are captured from it.
        string dir = TestRepo.TempDir();
        string path = Path.Combine(dir, "app.db");
        Write(path, 5);
        var client = new FileReplicaClient(Path.Combine(dir, "replica"));
        var logs = new CapturingLogger();
        // No pass between the first and the final sync: the other process's commits are the final sync's alone.
        var db = new Db(path, s_fastDb with { MonitorInterval = TimeSpan.FromMinutes(10) }, logs);
        var store = new Store([new Replica(db, client, s_fastReplica, logs)], new StoreOptions { ChangeDebounce = TimeSpan.FromMinutes(10) }, logs);
        using var stop = new CancellationTokenSource();
        Task run = store.RunAsync(stop.Token);
        await Wait.UntilAsync(() => File.Exists(client.LtxFilePath(0, new Txid(1), new Txid(1))), "the first sync to reach the replica");

        File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete).Dispose();
        Write(path, 2);
        Assert.True(File.Exists(path + "-wal")); // the writer's close could not take the EXCLUSIVE lock
        await stop.CancelAsync();
        await run;

        string expected = SqliteWriter.Dump(path);
        Assert.StartsWith("ok 7 ", expected);
        Assert.Equal(expected, await RestoreDump(client, dir));
        Assert.DoesNotContain(logs.Lines, l => l.Contains("the WAL was deleted or replaced by another process", StringComparison.Ordinal));
        Assert.DoesNotContain(logs.Lines, l => l.Contains("txid 0000000000000002", StringComparison.Ordinal) && l.Contains("reason:", StringComparison.Ordinal)); // a delta, no snapshot
    }

    [RequiresFact]
    public async Task SyncOnceAsync_UploadLongerThanTheLeaseTtl_RenewsWhileUploading_AndReleases()
    {
        // replicate -once with a lease: an upload that outlasts the TTL must not fence itself out of its own lease.
        string dir = TestRepo.TempDir();
        string path = Path.Combine(dir, "app.db");
        Write(path, 10);
        var lease = new Litestream.Lease.LeaseOptions { Ttl = TimeSpan.FromSeconds(3) };
        await using var client = new SlowUploadClient(new FileReplicaClient(Path.Combine(dir, "replica")), lease.Ttl * 1.5);
        await new Store([new Replica(new Db(path), client, new ReplicaOptions { Lease = lease })]).SyncOnceAsync();

        Assert.True(client.LeaseWrites >= 3, $"{client.LeaseWrites} lease writes: take, a renewal during the upload, release");
        string json = System.Text.Encoding.UTF8.GetString((await client.ReadLeaseAsync(default))!.Content.Span);
        Assert.Contains("\"released\":true", json, StringComparison.Ordinal);
        Assert.Equal(SqliteWriter.Dump(path), await RestoreDump((FileReplicaClient)client.Unwrapped, dir));
    }

    /// <summary>A file replica whose every upload takes <paramref name="delay"/>, counting lease writes.</summary>
    private sealed class SlowUploadClient(FileReplicaClient inner, TimeSpan delay) : Fixtures.DelegatingReplicaClient(inner)
    {
        private int _leaseWrites;

        public int LeaseWrites => Volatile.Read(ref _leaseWrites);

        public Litestream.Storage.IReplicaClient Unwrapped => Inner;

        public override async ValueTask<LtxFileInfo> WriteLtxFileAsync(int level, Txid minTxid, Txid maxTxid, Stream data, CancellationToken cancellationToken)
        {
            await Task.Delay(delay, cancellationToken); // the slow upload is the scenario
            return await Inner.WriteLtxFileAsync(level, minTxid, maxTxid, data, cancellationToken);
        }

        public override ValueTask<string> WriteLeaseAsync(ReadOnlyMemory<byte> content, string? ifMatch, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _leaseWrites);
            return Inner.WriteLeaseAsync(content, ifMatch, cancellationToken);
        }
    }

    [RequiresFact]
    public async Task SyncOnceAsync_EnforceRetention_DeletesExpiredSnapshotsAndWhatTheyReplace_KeepsTheNewest()
    {
        // replicate -once -enforce-retention (issue 18 item 4), as upstream's runOnce: sync, then snapshot retention.
        string dir = TestRepo.TempDir();
        string path = Path.Combine(dir, "app.db");
        var client = new FileReplicaClient(Path.Combine(dir, "replica"));
        await using (var db = new Db(path))
        {
            Write(path, 10);
            db.Open();
            var replica = new Replica(db, client);
            var compactor = new Compactor(replica, new CompactionOptions());
            for (int i = 0; i < 2; i++)
            {
                Write(path, 10);
                db.Sync();
                await replica.SyncAsync(default);
                Assert.NotNull(await compactor.CompactAsync(1, default));
                Assert.NotNull(await compactor.SnapshotAsync(default));
            }
        }
        LtxFileInfo newest = (await ListAsync(client, LtxConstants.SnapshotLevel))[^1];
        var expireAll = new CompactionOptions { SnapshotRetention = TimeSpan.Zero };

        await new Store([new Replica(new Db(path), client)], compaction: expireAll).SyncOnceAsync();
        Assert.Equal(2, (await ListAsync(client, LtxConstants.SnapshotLevel)).Count); // not asked
        await new Store([new Replica(new Db(path), client)], compaction: expireAll with { RetentionEnabled = false }).SyncOnceAsync(enforceRetention: true);
        Assert.Equal(2, (await ListAsync(client, LtxConstants.SnapshotLevel)).Count); // retention.enabled: false

        int before = await CountAllAsync(client);
        var logger = new CapturingLogger();
        await new Store([new Replica(new Db(path), client)], logger: logger, compaction: expireAll).SyncOnceAsync(enforceRetention: true);
        Assert.Equal(newest, Assert.Single(await ListAsync(client, LtxConstants.SnapshotLevel)));
        int deleted = before - await CountAllAsync(client);
        Assert.True(deleted > 1, $"deleted {deleted}: the old snapshot and the files below it");
        Assert.Contains($"Information: retention {path}: deleted {deleted} replica files (snapshots older than 0s and the files they replace)", logger.Lines);
        Assert.Equal(SqliteWriter.Dump(path), await RestoreDump(client, dir));
    }

    [RequiresFact]
    public async Task SyncOnceAsync_DatabaseRestoredFromTheReplica_ContinuesItsTxidsWithAnInfoNotAWarning()
    {
        // The serverless cold start (issue 18): restore, then replicate -once. The replica is ahead of a database
        // without local state by design; a warning on every start would train people to ignore warnings.
        string dir = TestRepo.TempDir();
        string path = Path.Combine(dir, "app.db");
        var client = new FileReplicaClient(Path.Combine(dir, "replica"));
        Write(path, 10);
        await new Store([new Replica(new Db(path), client)]).SyncOnceAsync();
        foreach (string file in new[] { path, path + "-wal", path + "-shm" })
        {
            File.Delete(file);
        }
        Directory.Delete(Path.Combine(dir, ".app.db-litestream"), recursive: true);
        RestoreResult restored = await Restorer.RestoreAsync(client, new RestoreOptions { OutputPath = path }, default);

        var logger = new CapturingLogger();
        await new Store([new Replica(new Db(path), client, logger: logger)], logger: logger).SyncOnceAsync();
        Assert.Contains($"Information: {path}: replica is ahead of local state ({restored.Txid} > 0000000000000000): expected for a database restored "
            + "from this replica (it has no local state yet); continuing the replica's TXIDs with a snapshot", logger.Lines);
        Assert.Empty(logger.LinesAtLeast(LogLevel.Warning));
        Assert.Equal(new Txid(restored.Txid.Value + 1), (await ListAsync(client, 0))[^1].MaxTxid);
    }

    private static async Task<List<LtxFileInfo>> ListAsync(FileReplicaClient client, int level)
    {
        var files = new List<LtxFileInfo>();
        await foreach (LtxFileInfo file in client.ListLtxFilesAsync(level, Txid.Zero, false, default))
        {
            files.Add(file);
        }
        return files;
    }

    private static async Task<int> CountAllAsync(FileReplicaClient client)
    {
        int count = 0;
        for (int level = 0; level <= LtxConstants.SnapshotLevel; level++)
        {
            count += (await ListAsync(client, level)).Count;
        }
        return count;
    }

    [RequiresFact]
    public async Task RunAsync_CommitAfterQuietPeriod_IsSyncedByTheChangeNotification()
    {
        string dir = TestRepo.TempDir();
        string path = Path.Combine(dir, "app.db");
        Write(path, 10);
        var client = new FileReplicaClient(Path.Combine(dir, "replica"));
        await new Store([new Replica(new Db(path), client)]).SyncOnceAsync();

        // With an hour between WAL checks only the change notification can sync the commit in time.
        var db = new Db(path, new DbOptions { MonitorInterval = TimeSpan.FromHours(1) });
        var store = new Store([new Replica(db, client, s_fastReplica)]);
        using var stop = new CancellationTokenSource();
        Task run = store.RunAsync(stop.Token);
        await Wait.UntilAsync(() => db.IsOpen, "the database to open");
        Write(path, 1);
        string second = client.LtxFilePath(0, new Txid(2), new Txid(2));
        // Generous bound: CI machines run this beside other suites at a load average far above the core count.
        bool shipped = await Wait.WithinAsync(() => File.Exists(second));
        long errors = store.ErrorCount;
        bool open = db.IsOpen;
        await stop.CancelAsync();
        await run;
        Assert.True(shipped, $"the commit was not shipped within 2 min of the change notification (open: {open}, sync errors: {errors})");
        Assert.Equal(SqliteWriter.Dump(path), await RestoreDump(client, dir));
    }

    /// <summary>
    /// A busy database is contention, not failure (issue 19: an ERROR "sync" line on a loaded machine): while the
    /// application holds it exclusively past the busy timeout the store logs warnings and retries, and once it lets
    /// go every commit is shipped, with no error logged.
    /// </summary>
    [RequiresFact]
    public async Task RunAsync_DatabaseHeldPastTheBusyTimeout_WarnsRetriesAndShipsEverything()
    {
        string dir = TestRepo.TempDir();
        string path = Path.Combine(dir, "app.db");
        Write(path, 10);
        var client = new FileReplicaClient(Path.Combine(dir, "replica"));
        var logs = new CapturingLogger();
        // EXCLUSIVE locking mode and a write: every other connection, readers too, gets SQLITE_BUSY until it closes.
        var app = new SqliteConnection($"Data Source={path};Pooling=False");
        app.Open();
        Exec(app, "PRAGMA locking_mode = EXCLUSIVE");
        Exec(app, "INSERT INTO t(v) VALUES ('written while held')");
        var store = new Store([new Replica(new Db(path, s_fastDb with { BusyTimeout = TimeSpan.FromMilliseconds(50) }), client, s_fastReplica)], logger: logs);
        using var stop = new CancellationTokenSource();
        Task run = store.RunAsync(stop.Token);
        await Wait.UntilAsync(() => logs.Lines.Count(l => l.StartsWith($"Warning: sync {path} waited out the busy timeout", StringComparison.Ordinal)) >= 2,
            "two busy warnings");
        app.Dispose(); // the exclusive lock goes with the connection
        await Wait.UntilAsync(() => client.LtxFilePath(0, new Txid(1), new Txid(1)) is { } first && File.Exists(first), "the first sync after the lock was released");
        await stop.CancelAsync();
        await run;
        Assert.Empty(logs.LinesAtLeast(LogLevel.Error));
        Assert.StartsWith("ok 11 ", SqliteWriter.Dump(path));
        Assert.Equal(SqliteWriter.Dump(path), await RestoreDump(client, dir));
    }

    private static void Exec(SqliteConnection connection, string sql)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    [RequiresFact]
    public async Task RunAsync_CommitAfterAGapLongerThanTheBurstWindow_IsSyncedByItsNotification()
    {
        // A commit shortly after a shipped one, but after the burst window, is no burst: it must not wait for the
        // monitor interval (an hour here, so only its own change notification can ship it).
        string dir = TestRepo.TempDir();
        string path = Path.Combine(dir, "app.db");
        Write(path, 10);
        var client = new FileReplicaClient(Path.Combine(dir, "replica"));
        var db = new Db(path, new DbOptions { MonitorInterval = TimeSpan.FromHours(1) });
        var store = new Store([new Replica(db, client, s_fastReplica)], new StoreOptions { BurstWindow = TimeSpan.FromMilliseconds(100) });
        using var stop = new CancellationTokenSource();
        Task run = store.RunAsync(stop.Token);
        async Task<bool> Shipped(Txid txid)
        {
            string file = client.LtxFilePath(0, txid, txid);
            return await Wait.WithinAsync(() => File.Exists(file));
        }
        Assert.True(await Shipped(new Txid(1)), "the start-up snapshot was not shipped");
        await Task.Delay(300); // a quiet gap past the burst window
        Write(path, 1);
        bool second = await Shipped(new Txid(2));
        await Task.Delay(300); // another quiet gap
        Write(path, 1);
        bool third = await Shipped(new Txid(3));
        await stop.CancelAsync();
        await run;
        Assert.True(second && third, $"commits after quiet gaps shipped: {second}, {third} (within 2 min each; the interval is an hour)");
        Assert.Equal(SqliteWriter.Dump(path), await RestoreDump(client, dir));
    }

    [RequiresFact]
    public async Task RunAsync_QuietWatchedDatabase_IsNotOpenedEveryMonitorInterval()
    {
        // A quiet database whose WAL is watched sleeps until its next write (or a checkpoint falls due, or the backstop of
        // 10 intervals): it is not opened and read every interval. Counted from outside, as the kernel sees it: each
        // look opens the WAL. Polling every 100 ms would open it ~30 times in 3 s; a busy machine only lowers the count.
        const string CountOpens = """
            import ctypes, os, select, struct, sys, time
            libc = ctypes.CDLL(None, use_errno=True)
            fd = libc.inotify_init1(os.O_NONBLOCK)
            assert libc.inotify_add_watch(fd, sys.argv[1].encode(), 0x20) >= 0  # IN_OPEN
            end, opens = time.monotonic() + float(sys.argv[2]), 0
            while (left := end - time.monotonic()) > 0:
                if select.select([fd], [], [], left)[0]:
                    events = os.read(fd, 4096)
                    while events:
                        opens += 1
                        events = events[16 + struct.unpack_from("iIII", events)[3]:]
            print(opens)
            """;
        string dir = TestRepo.TempDir();
        string path = Path.Combine(dir, "app.db");
        Write(path, 10);
        var client = new FileReplicaClient(Path.Combine(dir, "replica"));
        var db = new Db(path, new DbOptions { MonitorInterval = TimeSpan.FromMilliseconds(100) });
        var store = new Store([new Replica(db, client, s_fastReplica)]);
        using var stop = new CancellationTokenSource();
        Task run = store.RunAsync(stop.Token);
        string first = client.LtxFilePath(0, new Txid(1), new Txid(1));
        await Wait.UntilAsync(() => File.Exists(first), "the start-up snapshot to be shipped");
        await Task.Delay(500); // the start-up passes are over: nothing to observe, time passes
        int opens = int.Parse(Python.Run(CountOpens, db.WalPath, "3").Trim(), CultureInfo.InvariantCulture);
        await stop.CancelAsync();
        await run;
        Assert.True(opens <= 10, $"the quiet WAL was opened {opens} times in 3 s (monitor interval 100 ms)");
        Assert.Equal(0, store.ErrorCount);
    }

    [RequiresFact]
    public async Task RunAsync_QuietWatchedDatabase_StillCheckpointsWhenTheCheckpointIntervalIsDue()
    {
        // A watched, quiet database is not looked at every monitor interval, but its time-based checkpoint still
        // runs (a new WAL generation: other salts in the position).
        string dir = TestRepo.TempDir();
        string path = Path.Combine(dir, "app.db");
        Write(path, 10);
        var client = new FileReplicaClient(Path.Combine(dir, "replica"));
        var db = new Db(path, new DbOptions { MonitorInterval = TimeSpan.FromMilliseconds(300), CheckpointInterval = TimeSpan.FromSeconds(1), MinCheckpointPageCount = 1_000_000 });
        var store = new Store([new Replica(db, client, s_fastReplica)]);
        using var stop = new CancellationTokenSource();
        Task run = store.RunAsync(stop.Token);
        await Wait.UntilAsync(() => !db.Txid.IsZero, "the first sync");
        (uint, uint) before = (db.Position!.Value.WalSalt1, db.Position!.Value.WalSalt2);
        bool checkpointed = await Wait.WithinAsync(() => db.Position is { } p && (p.WalSalt1, p.WalSalt2) != before);
        await stop.CancelAsync();
        await run;
        Assert.True(checkpointed, "no checkpoint within 2 min of a 1 s checkpoint interval");
        Assert.Equal(0, store.ErrorCount);
        Assert.Equal(SqliteWriter.Dump(path), await RestoreDump(client, dir));
    }

    [RequiresFact]
    public async Task RunAsync_ContinuousWrites_L0FilesAtLeastOneMonitorIntervalApart()
    {
        string dir = TestRepo.TempDir();
        string path = Path.Combine(dir, "app.db");
        Write(path, 10);
        var client = new FileReplicaClient(Path.Combine(dir, "replica"));
        TimeSpan interval = TimeSpan.FromMilliseconds(400);
        // No checkpoints here: each one adds its own files (the capture under the write barrier and the
        // restarted WAL's first frame), which is not what this test counts.
        var db = new Db(path, new DbOptions { MonitorInterval = interval, MinCheckpointPageCount = 1_000_000, CheckpointInterval = TimeSpan.Zero });
        var store = new Store([new Replica(db, client, s_fastReplica)]);
        using var stop = new CancellationTokenSource();
        Task run = store.RunAsync(stop.Token);
        await Wait.UntilAsync(() => !db.Txid.IsZero, "the first transaction to be captured");
        var clock = Stopwatch.StartNew();
        Write(path, 3000); // one commit per row, continuously
        TimeSpan writing = clock.Elapsed;
        await stop.CancelAsync();
        await run;

        // Every commit notifies; files are spaced by the interval instead: the snapshot, one per interval
        // while writing (plus the file that may start the run), and the shutdown sync.
        int files = Directory.GetFiles(client.LevelDirectory(0)).Length;
        int bound = 1 + (int)Math.Ceiling(writing / interval) + 1 + 1;
        Assert.True(files <= bound, $"{files} L0 files for {writing.TotalMilliseconds:F0} ms of writes (at most {bound} expected)");
        Assert.Equal(SqliteWriter.Dump(path), await RestoreDump(client, dir));
    }

    [RequiresFact]
    public async Task SyncOnceAsync_DamagedLocalStateWithoutAutoRecover_FailsWithHintAndShipsNothing()
    {
        (_, string path, FileReplicaClient client) = await ReplicatedTwice();
        string[] before = Directory.GetFiles(client.LevelDirectory(0));

        var store = new Store([new Replica(new Db(path), client, new ReplicaOptions { AutoRecover = false })]);
        IOException e = await Assert.ThrowsAsync<IOException>(() => store.SyncOnceAsync());
        Assert.IsType<LocalStateException>(e.InnerException);
        Assert.Equal(before, Directory.GetFiles(client.LevelDirectory(0)));
    }

    [RequiresFact]
    public async Task SyncOnceAsync_DamagedLocalStateWithAutoRecover_SnapshotContinuesTheChain()
    {
        (string dir, string path, FileReplicaClient client) = await ReplicatedTwice();

        var store = new Store([new Replica(new Db(path), client, new ReplicaOptions { AutoRecover = true })]);
        await store.SyncOnceAsync();

        // The replica had txids 1 and 2; the recovery snapshot is txid 3 and holds every page.
        string third = client.LtxFilePath(0, new Txid(3), new Txid(3));
        using (var decoder = new LtxDecoder(File.OpenRead(third)))
        {
            LtxHeader header = decoder.DecodeHeader();
            Assert.Equal((uint)(new FileInfo(path).Length / header.PageSize), header.Commit);
            byte[] page = new byte[header.PageSize];
            int pages = 0;
            while (decoder.TryDecodePage(page, out _))
            {
                pages++;
            }
            decoder.Close();
            Assert.Equal((int)header.Commit, pages);
        }
        Assert.Equal(SqliteWriter.Dump(path), await RestoreDump(client, dir));
    }

    [RequiresFact]
    public async Task SyncAsync_BacklogOverMaxSyncLtxFiles_ReplicaHoldsEveryTransaction()
    {
        // The replica was unreachable while 20 transactions were captured; a batch is 3 files. "Synced" must mean
        // all 20 are up, not the first batch.
        string dir = TestRepo.TempDir();
        string path = Path.Combine(dir, "app.db");
        Write(path, 1);
        var client = new FileReplicaClient(Path.Combine(dir, "replica"));
        var db = new Db(path);
        var replica = new Replica(db, client, new ReplicaOptions { MaxSyncLtxFiles = 3 });
        await using var store = new Store([replica]);
        db.Open();
        for (int i = 0; i < 20; i++)
        {
            Write(path, 1);
            Assert.True(db.Sync());
        }

        await store.SyncAsync();

        Assert.Equal(new Txid(20), db.Txid);
        Assert.Equal(db.Txid, replica.RemoteTxid);
        Assert.True(File.Exists(client.LtxFilePath(0, new Txid(20), new Txid(20))));
        await db.DisposeAsync();
        Assert.Equal(SqliteWriter.Dump(path), await RestoreDump(client, dir));
    }

    [RequiresFact]
    public async Task SyncOnceAsync_EmptySecondReplica_ShipsTheRestartedChainsSnapshotInTheSameRun()
    {
        // Local state from replica A (its first L0 files pruned) meets an empty replica B: the chain restarts with a
        // snapshot, and -once must upload it before it reports success.
        string dir = TestRepo.TempDir();
        string path = Path.Combine(dir, "app.db");
        var a = new FileReplicaClient(Path.Combine(dir, "a"));
        Write(path, 20);
        await new Store([new Replica(new Db(path), a)]).SyncOnceAsync();
        Write(path, 20);
        await new Store([new Replica(new Db(path), a)]).SyncOnceAsync();
        Write(path, 5);

        var b = new FileReplicaClient(Path.Combine(dir, "b"));
        var db = new Db(path);
        var replica = new Replica(db, b);
        await new Store([replica]).SyncOnceAsync();

        Assert.False(db.Txid.IsZero);
        Assert.Equal(db.Txid, replica.RemoteTxid);
        Assert.Equal(SqliteWriter.Dump(path), await RestoreDump(b, dir));
    }

    [RequiresFact]
    public async Task RunAsync_ReplicaUnwritableAtShutdown_ThrowsAndLogsWhatDidNotReachIt()
    {
        string dir = TestRepo.TempDir();
        string path = Path.Combine(dir, "app.db");
        Write(path, 10);
        var client = new FileReplicaClient(Path.Combine(dir, "replica"));
        var db = new Db(path, s_fastDb);
        var logger = new CapturingLogger();
        var store = new Store([new Replica(db, client, s_fastReplica)], new StoreOptions { ShutdownSyncTimeout = TimeSpan.FromSeconds(1) }, logger);
        using var stop = new CancellationTokenSource();
        Task run = store.RunAsync(stop.Token);
        string level0 = client.LevelDirectory(0);
        await Wait.UntilAsync(() => File.Exists(client.LtxFilePath(0, new Txid(1), new Txid(1))), "the first upload");
        // Level 0 of the replica becomes a file: every upload fails from here on.
        Directory.Delete(level0, recursive: true);
        File.WriteAllText(level0, "");
        Write(path, 10);
        await Wait.UntilAsync(() => db.Txid.Value >= 2, "the second transaction to be captured");

        await stop.CancelAsync();
        ReplicaBehindException e = await Assert.ThrowsAsync<ReplicaBehindException>(() => run);

        Assert.Equal(db.Path, e.Path);
        Assert.True(e.LocalTxid.Value >= 2, e.Message);
        Assert.True(e.ReplicaTxid is { } remote && remote < e.LocalTxid, e.Message);
        Assert.StartsWith($"{db.Path}: transactions ", e.Message);
        Assert.Contains($"did not reach replica {client}", e.Message);
        Assert.Contains(logger.Lines, l => l == $"Error: final sync failed: {e.Message}");
    }

    /// <summary>Two synced and uploaded transactions, more rows written, and the newest local L0 file damaged.</summary>
    private static async Task<(string Dir, string Path, FileReplicaClient Client)> ReplicatedTwice()
    {
        string dir = TestRepo.TempDir();
        string path = Path.Combine(dir, "app.db");
        var client = new FileReplicaClient(Path.Combine(dir, "replica"));
        Write(path, 20);
        await new Store([new Replica(new Db(path), client)]).SyncOnceAsync();
        Write(path, 20);
        var db = new Db(path);
        await new Store([new Replica(db, client)]).SyncOnceAsync();
        Assert.Equal(new Txid(2), db.Txid);
        Write(path, 20);
        File.WriteAllBytes(db.L0FilePath(new Txid(2)), new byte[40]);
        return (dir, path, client);
    }
}
