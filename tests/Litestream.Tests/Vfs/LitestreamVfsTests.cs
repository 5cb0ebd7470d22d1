using System.Collections.Concurrent;
using System.Diagnostics;
using Litestream.Events;
using Litestream.Ltx;
using Litestream.Replication;
using Litestream.Restore;
using Litestream.Storage.File;
using Litestream.Storage.S3;
using Litestream.Vfs;
using Microsoft.Data.Sqlite;

namespace Litestream.Tests.Vfs;

/// <summary>
/// The VFS in process: a replica registered with <see cref="LitestreamVfs.AddReplica"/> and read through
/// Microsoft.Data.Sqlite (the bundled e_sqlite3), kept current by polling, with time travel and removal.
/// </summary>
[Requires(Need.Python)]
public class LitestreamVfsTests
{
    internal const int Pad = 1400; // rows of ~700 bytes: a few hundred fill more pages than the 64 KiB cache holds

    /// <summary>The writer process commits <paramref name="rows"/> text rows in one transaction (row i's value: <see cref="SqliteWriter.TextValue"/>).</summary>
    internal static void Write(string db, int rows)
        => SqliteWriter.Write(db, new Workload { Commits = 1, Batch = rows.ToString(System.Globalization.CultureInfo.InvariantCulture), Pad = Pad });

    /// <summary>Lets the writer process commit <paramref name="newRows"/> more rows (if any), then captures and uploads everything.</summary>
    internal static async Task ShipAsync(Db source, Replica replica, int newRows = 0)
    {
        if (newRows > 0)
        {
            Write(source.Path, newRows);
        }
        source.Sync();
        await replica.SyncAsync(default);
    }

    [RequiresFact]
    public async Task AddReplica_ReadsThroughMicrosoftDataSqlite_FollowsNewTransactions_AndRemoves()
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        var client = new FileReplicaClient(Path.Combine(dir, "replica"));
        Write(db, 300);
        await using var source = new Db(db);
        source.Open();
        var replica = new Replica(source, client);
        await ShipAsync(source, replica);

        string name = $"fruits-{Guid.NewGuid():N}.db";
        LitestreamVfs.AddReplica(name, client, new VfsReplicaOptions { PollInterval = TimeSpan.FromMilliseconds(200), CacheSize = 64 * 1024 });
        string cs = $"Data Source=file:{name}?vfs=litestream;Mode=ReadOnly;Pooling=False";
        using (var c = new SqliteConnection(cs))
        {
            c.Open();
            Assert.Equal(300L, Scalar(c, "SELECT count(*) FROM t"));
            Assert.Equal(SqliteWriter.TextValue(299, Pad), Scalar(c, "SELECT v FROM t WHERE id = 300"));
            Assert.Equal("ok", Scalar(c, "PRAGMA integrity_check"));
            Assert.Equal(source.Txid.ToString(), Scalar(c, "PRAGMA litestream_txid"));
            var write = Assert.Throws<SqliteException>(() => Scalar(c, "INSERT INTO t(v) VALUES ('x')"));
            Assert.Equal(8, write.SqliteErrorCode); // SQLITE_READONLY

            // New transactions arrive by polling; the open connection sees them at its next read transaction.
            // A moment strictly between the two batches' timestamps (the pauses only separate the clock readings).
            await Task.Delay(100);
            DateTimeOffset between = DateTimeOffset.UtcNow;
            await Task.Delay(100);
            await ShipAsync(source, replica, newRows: 50);
            await Wait.UntilAsync(() => (long)Scalar(c, "SELECT count(*) FROM t") == 350L, "the VFS to pick up the new transaction");
            Assert.Equal(source.Txid.ToString(), Scalar(c, "PRAGMA litestream_txid"));
            Assert.Equal("ok", Scalar(c, "PRAGMA integrity_check"));

            // Back to before the second batch, then forward again.
            var none = Assert.Throws<SqliteException>(() => Exec(c, $"PRAGMA litestream_time = '{DateTimeOffset.UtcNow.AddDays(-1):O}'"));
            Assert.Contains("no replicated state at or before", none.Message);
            Exec(c, $"PRAGMA litestream_time = '{between:O}'");
            Assert.Equal(300L, Scalar(c, "SELECT count(*) FROM t"));
            Exec(c, "PRAGMA litestream_time = '-1ms'");
            Assert.Equal(350L, Scalar(c, "SELECT count(*) FROM t"));
            Exec(c, "PRAGMA litestream_time = 'now'");
            Assert.Equal(350L, Scalar(c, "SELECT count(*) FROM t"));
        }

        Assert.True(LitestreamVfs.RemoveReplica(name));
        Assert.False(LitestreamVfs.RemoveReplica(name));
        using var gone = new SqliteConnection(cs);
        var e = Assert.Throws<SqliteException>(gone.Open);
        Assert.Equal(14, e.SqliteErrorCode); // SQLITE_CANTOPEN
    }

    /// <summary>
    /// Following, the VFS tells what it applies (a tx event per poll that made new files readable: the replica's name,
    /// the newest TXID, its capture time on the primary, the bytes applied; none for the first open), and LagAsync says
    /// how far its readers are behind the replica's head, in TXIDs and in the primary's capture times.
    /// </summary>
    [RequiresFact]
    public async Task Following_EmitsTxEvents_AndLagAsyncReportsTheDistanceToTheHead()
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        var client = new FileReplicaClient(Path.Combine(dir, "replica"));
        Write(db, 10);
        await using var source = new Db(db);
        source.Open();
        var replica = new Replica(source, client);
        await ShipAsync(source, replica);
        Txid first = source.Txid;

        string following = $"events-{Guid.NewGuid():N}.db", still = $"still-{Guid.NewGuid():N}.db";
        var applied = new ConcurrentQueue<ReplicationEvent>();
        LitestreamVfs.AddReplica(following, client, new VfsReplicaOptions { PollInterval = TimeSpan.FromMilliseconds(100), Applied = applied.Enqueue });
        // Polls once an hour: it stays at what its first open read, so its lag can be measured behind a newer head.
        LitestreamVfs.AddReplica(still, client, new VfsReplicaOptions { PollInterval = TimeSpan.FromHours(1) });
        try
        {
            await Assert.ThrowsAsync<InvalidOperationException>(() => LitestreamVfs.LagAsync(following).AsTask());
            await Assert.ThrowsAsync<KeyNotFoundException>(() => LitestreamVfs.LagAsync("nobody.db").AsTask());
            using var c = new SqliteConnection($"Data Source=file:{following}?vfs=litestream;Mode=ReadOnly;Pooling=False");
            c.Open();
            using var s = new SqliteConnection($"Data Source=file:{still}?vfs=litestream;Mode=ReadOnly;Pooling=False");
            s.Open();
            Assert.Equal(10L, Scalar(c, "SELECT count(*) FROM t"));
            Assert.Equal(10L, Scalar(s, "SELECT count(*) FROM t"));
            FollowerLag caughtUp = await LitestreamVfs.LagAsync(following);
            Assert.Equal((following, first, first, 0UL, (TimeSpan?)TimeSpan.Zero), (caughtUp.Path, caughtUp.AppliedTxid, caughtUp.HeadTxid, caughtUp.BehindTxids, caughtUp.Behind));
            Assert.Empty(applied);

            await Task.Delay(20); // the next file's capture time differs from the first's
            await ShipAsync(source, replica, newRows: 5);
            Txid second = source.Txid;
            LtxFileInfo file = await client.ListLtxFilesAsync(0, second, false, default).SingleAsync(f => f.MaxTxid == second);
            DateTimeOffset capturedAt = LtxHeader.Read(File.ReadAllBytes(Path.Combine(dir, "replica", "ltx", "0", LtxFileName.Format(second, second)))).CreatedAt;

            await Wait.UntilAsync(() => !applied.IsEmpty, "the VFS to apply the new file");
            ReplicationEvent tx = Assert.Single(applied);
            Assert.Equal((ReplicationEventKind.Tx, following, second, capturedAt, file.Size), (tx.Kind, tx.Db, tx.Txid, tx.Timestamp, tx.Size));
            Assert.Equal(15L, Scalar(c, "SELECT count(*) FROM t"));

            FollowerLag behind = await LitestreamVfs.LagAsync(still);
            Assert.Equal((still, first, second, 1UL), (behind.Path, behind.AppliedTxid, behind.HeadTxid, behind.BehindTxids));
            Assert.Equal(capturedAt, behind.HeadAt);
            Assert.NotNull(behind.AppliedAt);
            Assert.Equal(capturedAt - behind.AppliedAt!.Value, behind.Behind);
            Assert.True(behind.Behind > TimeSpan.Zero, $"behind {behind.Behind}");
            Assert.Equal(0UL, (await LitestreamVfs.LagAsync(following)).BehindTxids);
        }
        finally
        {
            LitestreamVfs.RemoveReplica(following);
            LitestreamVfs.RemoveReplica(still);
        }
    }

    [RequiresFact]
    public async Task Read_L0FilesDeletedAfterCompaction_RebuildsTheIndexAtTheSameTxid_BusyOnceNoFileHoldsIt()
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        var client = new FileReplicaClient(Path.Combine(dir, "replica"));
        Write(db, 300);
        await using var source = new Db(db);
        source.Open();
        var replica = new Replica(source, client);
        await ShipAsync(source, replica);
        await ShipAsync(source, replica, newRows: 50);
        string[] l0 = Directory.GetFiles(Path.Combine(dir, "replica", "ltx", "0"));
        Assert.Equal(2, l0.Length);

        // No page cache besides page 1, no polling: every read goes to the files the index names.
        string name = $"compacted-{Guid.NewGuid():N}.db";
        LitestreamVfs.AddReplica(name, client, new VfsReplicaOptions { PollInterval = TimeSpan.FromHours(1), CacheSize = 0 });
        // Pooling off: each connection starts with an empty SQLite page cache. Microsoft.Data.Sqlite retries a
        // busy statement until the timeout: 1 s.
        string cs = $"Data Source=file:{name}?vfs=litestream;Mode=ReadOnly;Pooling=False;Default Timeout=1";
        string txid = source.Txid.ToString();
        using (var c = new SqliteConnection(cs))
        {
            c.Open();
            Assert.Equal(350L, Scalar(c, "SELECT count(*) FROM t"));
            Assert.Equal(txid, Scalar(c, "PRAGMA litestream_txid"));
        }

        // Compaction merges both into one L1 file, then retention deletes the L0 files under the built index.
        LtxFileInfo? l1 = await new Compactor(replica).CompactAsync(1, default);
        Assert.NotNull(l1);
        Assert.Equal(source.Txid, l1.MaxTxid);
        foreach (string file in l0)
        {
            File.Delete(file);
        }
        using (var c = new SqliteConnection(cs))
        {
            c.Open();
            Assert.Equal(350L, Scalar(c, "SELECT count(*) FROM t"));
            Assert.Equal(SqliteWriter.TextValue(49, Pad), Scalar(c, "SELECT v FROM t WHERE id = 350")); // the second batch's last row
            Assert.Equal("ok", Scalar(c, "PRAGMA integrity_check"));
            Assert.Equal(txid, Scalar(c, "PRAGMA litestream_txid"));
        }

        // The L1 file goes too: no file rebuilds the TXID, so SQLITE_BUSY (retryable), not a crash or CORRUPT.
        File.Delete(client.LtxFilePath(1, l1.MinTxid, l1.MaxTxid));
        using (var c = new SqliteConnection(cs))
        {
            var busy = Assert.Throws<SqliteException>(() =>
            {
                c.Open();
                return Scalar(c, "SELECT count(*) FROM t");
            });
            Assert.Equal(5, busy.SqliteErrorCode); // SQLITE_BUSY
        }

        Assert.True(LitestreamVfs.RemoveReplica(name));
    }

    [RequiresFact]
    public async Task Open_UnreachableS3Endpoint_IsSqliteIoErr_WithinSeconds()
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        int port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        await using var client = new S3ReplicaClient(new S3ReplicaSettings
        {
            Bucket = "bucket",
            Path = "app",
            Endpoint = $"http://127.0.0.1:{port}",
            AccessKeyId = "vfs-test",
            SecretAccessKey = "vfs-test-secret",
        });
        string name = $"unreachable-{Guid.NewGuid():N}.db";
        LitestreamVfs.AddReplica(name, client);
        try
        {
            var clock = Stopwatch.StartNew();
            using var c = new SqliteConnection($"Data Source=file:{name}?vfs=litestream;Mode=ReadOnly;Pooling=False");
            var e = Assert.Throws<SqliteException>(c.Open);
            Assert.Equal(10, e.SqliteErrorCode); // SQLITE_IOERR, not CANTOPEN: the replica exists but cannot be read
            Assert.Contains("disk I/O error", e.Message);
            // The caller's client keeps its own retry policy (3 SDK retries): still seconds, not minutes.
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"open failed after {clock.Elapsed}");
        }
        finally
        {
            LitestreamVfs.RemoveReplica(name);
        }
    }

    internal static object Scalar(SqliteConnection c, string sql)
    {
        using SqliteCommand cmd = c.CreateCommand();
        cmd.CommandText = sql;
        return cmd.ExecuteScalar()!;
    }

    internal static void Exec(SqliteConnection c, string sql)
    {
        using SqliteCommand cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }
}
