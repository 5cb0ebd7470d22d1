using System.Globalization;
using System.Diagnostics;
using Litestream.Ltx;
using Litestream.Replication;
using Litestream.Restore;
using Litestream.Storage.File;
using Litestream.Tests.Fixtures;

namespace Litestream.Tests.Replication;

/// <summary>The Store's loops in-process (monitor, upload, shutdown flush, auto-recover) against a file replica.</summary>
public class StoreTests
{
    private const string Writer = """
        import sqlite3, sys
        c = sqlite3.connect(sys.argv[1], isolation_level=None)
        c.execute("PRAGMA busy_timeout=5000")
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v TEXT)")
        for i in range(int(sys.argv[2])):
            c.execute("INSERT INTO t(v) VALUES (?)", ("row%d-" % i + "y" * (i % 700),))
        """;

    private const string Dump = """
        import sqlite3, sys, hashlib
        c = sqlite3.connect(sys.argv[1])
        rows = c.execute("SELECT id, v FROM t ORDER BY id").fetchall()
        print(c.execute("PRAGMA integrity_check").fetchone()[0], len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
        """;

    private static readonly DbOptions s_fastDb = new() { MonitorInterval = TimeSpan.FromMilliseconds(100), MinCheckpointPageCount = 100 };

    private static readonly ReplicaOptions s_fastReplica = new() { SyncInterval = TimeSpan.FromMilliseconds(100) };

    private static void Write(string db, int rows) => TestPaths.Python(Writer, db, rows.ToString());

    private static async Task<string> RestoreDump(FileReplicaClient client, string dir)
    {
        string output = Path.Combine(dir, $"restored-{Guid.NewGuid():N}.db");
        await Restorer.RestoreAsync(client, new RestoreOptions { OutputPath = output }, default);
        return TestPaths.Python(Dump, output);
    }

    [Fact]
    public async Task RunAsync_CancelRightAfterLastCommit_FinalSyncShipsEverything()
    {
        string dir = TestPaths.TempDir();
        string path = Path.Combine(dir, "app.db");
        Write(path, 10);
        var client = new FileReplicaClient(Path.Combine(dir, "replica"));
        var store = new Store([new Replica(new Db(path, s_fastDb), client, s_fastReplica)]);
        using var stop = new CancellationTokenSource();
        Task run = store.RunAsync(stop.Token);
        string firstRemote = client.LtxFilePath(0, new Txid(1), new Txid(1));
        for (int i = 0; i < 200 && !File.Exists(firstRemote); i++)
        {
            await Task.Delay(50);
        }
        Assert.True(File.Exists(firstRemote), "the first sync did not reach the replica");

        Write(path, 3000); // ~1000 WAL pages: several checkpoints while the loops run
        await stop.CancelAsync();
        await run;

        Assert.Equal(0, store.ErrorCount);
        string expected = TestPaths.Python(Dump, path);
        Assert.StartsWith("ok 3010 ", expected);
        Assert.Equal(expected, await RestoreDump(client, dir));
    }

    [Fact]
    public async Task RunAsync_CommitAfterQuietPeriod_IsSyncedByTheChangeNotification()
    {
        string dir = TestPaths.TempDir();
        string path = Path.Combine(dir, "app.db");
        Write(path, 10);
        var client = new FileReplicaClient(Path.Combine(dir, "replica"));
        await new Store([new Replica(new Db(path), client)]).SyncOnceAsync(default);

        // With an hour between WAL checks only the change notification can sync the commit in time.
        var db = new Db(path, new DbOptions { MonitorInterval = TimeSpan.FromHours(1) });
        var store = new Store([new Replica(db, client, s_fastReplica)]);
        using var stop = new CancellationTokenSource();
        Task run = store.RunAsync(stop.Token);
        for (int i = 0; i < 200 && !db.IsOpen; i++)
        {
            await Task.Delay(50);
        }
        Write(path, 1);
        string second = client.LtxFilePath(0, new Txid(2), new Txid(2));
        // Generous bound: CI machines run this beside other suites at a load average far above the core count.
        for (int i = 0; i < 1200 && !File.Exists(second); i++)
        {
            await Task.Delay(50);
        }
        bool shipped = File.Exists(second);
        long errors = store.ErrorCount;
        bool open = db.IsOpen;
        await stop.CancelAsync();
        await run;
        Assert.True(shipped, $"the commit was not shipped within 60 s of the change notification (open: {open}, sync errors: {errors})");
        Assert.Equal(TestPaths.Python(Dump, path), await RestoreDump(client, dir));
    }

    [Fact]
    public async Task RunAsync_CommitAfterAGapLongerThanTheBurstWindow_IsSyncedByItsNotification()
    {
        // A commit shortly after a shipped one, but after the burst window, is no burst: it must not wait for the
        // monitor interval (an hour here, so only its own change notification can ship it).
        string dir = TestPaths.TempDir();
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
            for (int i = 0; i < 1200 && !File.Exists(file); i++)
            {
                await Task.Delay(50);
            }
            return File.Exists(file);
        }
        Assert.True(await Shipped(new Txid(1)), "the start-up snapshot was not shipped");
        await Task.Delay(300); // a quiet gap past the burst window
        Write(path, 1);
        bool second = await Shipped(new Txid(2));
        await Task.Delay(300);
        Write(path, 1);
        bool third = await Shipped(new Txid(3));
        await stop.CancelAsync();
        await run;
        Assert.True(second && third, $"commits after quiet gaps shipped: {second}, {third} (within 60 s each; the interval is an hour)");
        Assert.Equal(TestPaths.Python(Dump, path), await RestoreDump(client, dir));
    }

    [Fact]
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
        string dir = TestPaths.TempDir();
        string path = Path.Combine(dir, "app.db");
        Write(path, 10);
        var client = new FileReplicaClient(Path.Combine(dir, "replica"));
        var db = new Db(path, new DbOptions { MonitorInterval = TimeSpan.FromMilliseconds(100) });
        var store = new Store([new Replica(db, client, s_fastReplica)]);
        using var stop = new CancellationTokenSource();
        Task run = store.RunAsync(stop.Token);
        string first = client.LtxFilePath(0, new Txid(1), new Txid(1));
        for (int i = 0; i < 1200 && !File.Exists(first); i++)
        {
            await Task.Delay(50);
        }
        Assert.True(File.Exists(first), "the start-up snapshot was not shipped");
        await Task.Delay(500); // the start-up passes are over
        int opens = int.Parse(TestPaths.Python(CountOpens, db.WalPath, "3").Trim(), CultureInfo.InvariantCulture);
        await stop.CancelAsync();
        await run;
        Assert.True(opens <= 10, $"the quiet WAL was opened {opens} times in 3 s (monitor interval 100 ms)");
        Assert.Equal(0, store.ErrorCount);
    }

    [Fact]
    public async Task RunAsync_QuietWatchedDatabase_StillCheckpointsWhenTheCheckpointIntervalIsDue()
    {
        // A watched, quiet database is not looked at every monitor interval, but its time-based checkpoint still
        // runs (a new WAL generation: other salts in the position).
        string dir = TestPaths.TempDir();
        string path = Path.Combine(dir, "app.db");
        Write(path, 10);
        var client = new FileReplicaClient(Path.Combine(dir, "replica"));
        var db = new Db(path, new DbOptions { MonitorInterval = TimeSpan.FromMilliseconds(300), CheckpointInterval = TimeSpan.FromSeconds(1), MinCheckpointPageCount = 1_000_000 });
        var store = new Store([new Replica(db, client, s_fastReplica)]);
        using var stop = new CancellationTokenSource();
        Task run = store.RunAsync(stop.Token);
        for (int i = 0; i < 1200 && db.Txid.IsZero; i++)
        {
            await Task.Delay(50);
        }
        (uint, uint) before = (db.Position!.Value.WalSalt1, db.Position!.Value.WalSalt2);
        bool checkpointed = false;
        for (int i = 0; i < 1200 && !checkpointed; i++)
        {
            await Task.Delay(50);
            checkpointed = db.Position is { } p && (p.WalSalt1, p.WalSalt2) != before;
        }
        await stop.CancelAsync();
        await run;
        Assert.True(checkpointed, "no checkpoint within 60 s of a 1 s checkpoint interval");
        Assert.Equal(0, store.ErrorCount);
        Assert.Equal(TestPaths.Python(Dump, path), await RestoreDump(client, dir));
    }

    [Fact]
    public async Task RunAsync_ContinuousWrites_L0FilesAtLeastOneMonitorIntervalApart()
    {
        string dir = TestPaths.TempDir();
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
        for (int i = 0; i < 200 && db.Txid.IsZero; i++)
        {
            await Task.Delay(50);
        }
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
        Assert.Equal(TestPaths.Python(Dump, path), await RestoreDump(client, dir));
    }

    [Fact]
    public async Task SyncOnceAsync_DamagedLocalStateWithoutAutoRecover_FailsWithHintAndShipsNothing()
    {
        (_, string path, FileReplicaClient client) = await ReplicatedTwice();
        string[] before = Directory.GetFiles(client.LevelDirectory(0));

        var store = new Store([new Replica(new Db(path), client, new ReplicaOptions { AutoRecover = false })]);
        IOException e = await Assert.ThrowsAsync<IOException>(() => store.SyncOnceAsync(default));
        Assert.IsType<LocalStateException>(e.InnerException);
        Assert.Equal(before, Directory.GetFiles(client.LevelDirectory(0)));
    }

    [Fact]
    public async Task SyncOnceAsync_DamagedLocalStateWithAutoRecover_SnapshotContinuesTheChain()
    {
        (string dir, string path, FileReplicaClient client) = await ReplicatedTwice();

        var store = new Store([new Replica(new Db(path), client, new ReplicaOptions { AutoRecover = true })]);
        await store.SyncOnceAsync(default);

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
        Assert.Equal(TestPaths.Python(Dump, path), await RestoreDump(client, dir));
    }

    [Fact]
    public async Task SyncAsync_BacklogOverMaxSyncLtxFiles_ReplicaHoldsEveryTransaction()
    {
        // The replica was unreachable while 20 transactions were captured; a batch is 3 files. "Synced" must mean
        // all 20 are up, not the first batch.
        string dir = TestPaths.TempDir();
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
        Assert.Equal(TestPaths.Python(Dump, path), await RestoreDump(client, dir));
    }

    [Fact]
    public async Task SyncOnceAsync_EmptySecondReplica_ShipsTheRestartedChainsSnapshotInTheSameRun()
    {
        // Local state from replica A (its first L0 files pruned) meets an empty replica B: the chain restarts with a
        // snapshot, and -once must upload it before it reports success.
        string dir = TestPaths.TempDir();
        string path = Path.Combine(dir, "app.db");
        var a = new FileReplicaClient(Path.Combine(dir, "a"));
        Write(path, 20);
        await new Store([new Replica(new Db(path), a)]).SyncOnceAsync(default);
        Write(path, 20);
        await new Store([new Replica(new Db(path), a)]).SyncOnceAsync(default);
        Write(path, 5);

        var b = new FileReplicaClient(Path.Combine(dir, "b"));
        var db = new Db(path);
        var replica = new Replica(db, b);
        await new Store([replica]).SyncOnceAsync(default);

        Assert.False(db.Txid.IsZero);
        Assert.Equal(db.Txid, replica.RemoteTxid);
        Assert.Equal(TestPaths.Python(Dump, path), await RestoreDump(b, dir));
    }

    [Fact]
    public async Task RunAsync_ReplicaUnwritableAtShutdown_ThrowsAndLogsWhatDidNotReachIt()
    {
        string dir = TestPaths.TempDir();
        string path = Path.Combine(dir, "app.db");
        Write(path, 10);
        var client = new FileReplicaClient(Path.Combine(dir, "replica"));
        var db = new Db(path, s_fastDb);
        var logger = new ListLogger();
        var store = new Store([new Replica(db, client, s_fastReplica)], new StoreOptions { ShutdownSyncTimeout = TimeSpan.FromSeconds(1) }, logger);
        using var stop = new CancellationTokenSource();
        Task run = store.RunAsync(stop.Token);
        string level0 = client.LevelDirectory(0);
        for (int i = 0; i < 400 && !File.Exists(client.LtxFilePath(0, new Txid(1), new Txid(1))); i++)
        {
            await Task.Delay(50);
        }
        // Level 0 of the replica becomes a file: every upload fails from here on.
        Directory.Delete(level0, recursive: true);
        File.WriteAllText(level0, "");
        Write(path, 10);
        for (int i = 0; i < 400 && db.Txid.Value < 2; i++)
        {
            await Task.Delay(50);
        }

        await stop.CancelAsync();
        ReplicaBehindException e = await Assert.ThrowsAsync<ReplicaBehindException>(() => run);

        Assert.Equal(db.Path, e.Path);
        Assert.True(e.LocalTxid.Value >= 2, e.Message);
        Assert.True(e.ReplicaTxid is { } remote && remote < e.LocalTxid, e.Message);
        Assert.StartsWith($"{db.Path}: transactions ", e.Message);
        Assert.Contains($"did not reach replica {client}", e.Message);
        Assert.Contains(logger.Lines, l => l == $"Error final sync failed: {e.Message}");
    }

    /// <summary>Two synced and uploaded transactions, more rows written, and the newest local L0 file damaged.</summary>
    private static async Task<(string Dir, string Path, FileReplicaClient Client)> ReplicatedTwice()
    {
        string dir = TestPaths.TempDir();
        string path = Path.Combine(dir, "app.db");
        var client = new FileReplicaClient(Path.Combine(dir, "replica"));
        Write(path, 20);
        await new Store([new Replica(new Db(path), client)]).SyncOnceAsync(default);
        Write(path, 20);
        var db = new Db(path);
        await new Store([new Replica(db, client)]).SyncOnceAsync(default);
        Assert.Equal(new Txid(2), db.Txid);
        Write(path, 20);
        File.WriteAllBytes(db.L0FilePath(new Txid(2)), new byte[40]);
        return (dir, path, client);
    }
}
