using System.Diagnostics;
using Litestream.Lease;
using Litestream.Ltx;
using Litestream.Replication;
using Litestream.Restore;
using Litestream.Storage.File;
using Litestream.Vfs;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using static Litestream.Tests.Vfs.LitestreamVfsTests;

namespace Litestream.Tests.Vfs;

/// <summary>
/// VFS write mode in process: a writer takes the replica's lease on its first write transaction, reads its own
/// commits at once, uploads them as L0 files at the next TXIDs that restore accepts, and gets SQLITE_BUSY while
/// another holder has the lease or once the replica moved past its buffered commits.
/// </summary>
[Requires(Need.Python)]
public class VfsWriteModeTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const int Busy = 5;

    private static string Open(string name) => $"Data Source=file:{name}?vfs=litestream;Pooling=False;Default Timeout=1";

    [RequiresFact]
    public async Task EmptyReplica_WriterCreatesTheDatabase_ReadsItsOwnCommits_AndRestoreEqualsThem()
    {
        string dir = TestRepo.TempDir();
        var client = new FileReplicaClient(Path.Combine(dir, "replica"));
        string name = $"w-{Guid.NewGuid():N}.db";
        string buffer = Path.Combine(dir, "buffer", "write-buffer");
        LitestreamVfs.AddReplica(name, client, new VfsReplicaOptions { WriteEnabled = true, SyncInterval = TimeSpan.FromMilliseconds(100), BufferPath = buffer });
        try
        {
            using var c = new SqliteConnection(Open(name));
            c.Open();
            Assert.Equal("1", Scalar(c, "PRAGMA litestream_write_enabled"));
            Exec(c, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)");
            using (SqliteTransaction tx = c.BeginTransaction())
            {
                for (int i = 0; i < 500; i++)
                {
                    Exec(c, $"INSERT INTO t(v) VALUES ('{new string((char)('a' + i % 26), 300)}')");
                }
                tx.Commit();
            }
            // Its own commit at once, and another connection of this process sees it too.
            Assert.Equal(500L, Scalar(c, "SELECT count(*) FROM t"));
            using (var other = new SqliteConnection(Open(name)))
            {
                other.Open();
                Assert.Equal(500L, Scalar(other, "SELECT count(*) FROM t"));
            }
            Assert.True(File.Exists(buffer));

            // Commit-to-replica latency: from the commit's return until its L0 file is listed.
            var latencies = new List<TimeSpan>();
            for (int round = 0; round < 5; round++)
            {
                ulong before = (await client.ListLtxFilesAsync(0, Txid.Zero, false, default).ToListAsync()).Select(f => f.MaxTxid.Value).DefaultIfEmpty(0UL).Max();
                Exec(c, $"INSERT INTO t(v) VALUES ('round {round}')");
                var clock = Stopwatch.StartNew();
                await Wait.UntilAsync(() => client.ListLtxFilesAsync(0, new Txid(before + 1), false, default).ToListAsync().AsTask().Result.Count > 0, "the commit's L0 file");
                latencies.Add(clock.Elapsed);
            }
            output.WriteLine($"commit-to-replica latency at sync interval 100 ms: {string.Join(", ", latencies.Select(l => $"{l.TotalMilliseconds:0} ms"))}");
            Assert.Equal(505L, Scalar(c, "SELECT count(*) FROM t"));
            Exec(c, "DELETE FROM t WHERE id % 2 = 0");
            Assert.Equal(253L, Scalar(c, "SELECT count(*) FROM t"));
        }
        finally
        {
            Assert.True(LitestreamVfs.RemoveReplica(name)); // uploads the rest and releases the lease
        }

        List<LtxFileInfo> files = await client.ListLtxFilesAsync(0, Txid.Zero, false, default).ToListAsync();
        Assert.Equal(Enumerable.Range(1, files.Count).Select(i => (ulong)i), files.Select(f => f.MinTxid.Value));
        Assert.All(files, f => Assert.Equal(f.MinTxid, f.MaxTxid));
        LtxHeader first = await ReadHeaderAsync(client, files[0]);
        Assert.Equal(1L, LtxNodeId.LeaseGeneration(first.NodeId)); // uploaded under the first lease generation
        Assert.Equal(LtxConstants.HeaderFlagNoChecksum, first.Flags);

        string restored = Path.Combine(dir, "restored.db");
        await Restorer.RestoreAsync(client, new RestoreOptions { OutputPath = restored, IntegrityCheck = IntegrityCheck.Full }, default);
        using var r = new SqliteConnection($"Data Source={restored};Pooling=False");
        r.Open();
        Assert.Equal(253L, Scalar(r, "SELECT count(*) FROM t"));
        Assert.Equal("ok", Scalar(r, "PRAGMA integrity_check"));

        // The lease was released: a replicator takes it at once, with the next generation.
        var lease = new ReplicaLease(client, new LeaseOptions(), NullLogger.Instance);
        await lease.AcquireAsync(default);
        Assert.Equal(2L, lease.Generation);
        await lease.ReleaseAsync(default);
    }

    [RequiresFact]
    public async Task Writer_ContinuesAReplicatedDatabase_AtTheNextTxid()
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        var client = new FileReplicaClient(Path.Combine(dir, "replica"));
        Write(db, 40);
        Txid shipped;
        await using (var source = new Db(db))
        {
            source.Open();
            var replica = new Replica(source, client);
            await ShipAsync(source, replica);
            shipped = source.Txid;
        }

        string name = $"w-{Guid.NewGuid():N}.db";
        LitestreamVfs.AddReplica(name, client, new VfsReplicaOptions { WriteEnabled = true, SyncInterval = TimeSpan.FromMilliseconds(100) });
        try
        {
            using var c = new SqliteConnection(Open(name));
            c.Open();
            Assert.Equal(40L, Scalar(c, "SELECT count(*) FROM t"));
            Exec(c, "INSERT INTO t(v) SELECT v FROM t");
            Assert.Equal(80L, Scalar(c, "SELECT count(*) FROM t"));
            await Wait.UntilAsync(() => Scalar(c, "PRAGMA litestream_txid") as string == new Txid(shipped.Value + 1).ToString(), "the upload at the next txid");
        }
        finally
        {
            LitestreamVfs.RemoveReplica(name);
        }
        string restored = Path.Combine(dir, "restored.db");
        RestoreResult result = await Restorer.RestoreAsync(client, new RestoreOptions { OutputPath = restored, IntegrityCheck = IntegrityCheck.Full }, default);
        Assert.Equal(new Txid(shipped.Value + 1), result.Txid);
        using var r = new SqliteConnection($"Data Source={restored};Pooling=False");
        r.Open();
        Assert.Equal(80L, Scalar(r, "SELECT count(*) FROM t"));
    }

    [RequiresFact]
    public async Task AnotherLeaseHolder_MakesWritesBusy_AndAVfsWriterHoldsOffOthers()
    {
        string dir = TestRepo.TempDir();
        var client = new FileReplicaClient(Path.Combine(dir, "replica"));

        // A replicator holds the lease: the VFS writer's first write transaction is refused, reads still work.
        var replicator = new ReplicaLease(client, new LeaseOptions { Ttl = TimeSpan.FromSeconds(30) }, NullLogger.Instance);
        await replicator.AcquireAsync(default);
        string name = $"w-{Guid.NewGuid():N}.db";
        LitestreamVfs.AddReplica(name, client, new VfsReplicaOptions { WriteEnabled = true, SyncInterval = TimeSpan.FromMilliseconds(100) });
        try
        {
            using var c = new SqliteConnection(Open(name));
            c.Open();
            var busy = Assert.Throws<SqliteException>(() => Exec(c, "CREATE TABLE t(x)"));
            Assert.Equal(Busy, busy.SqliteErrorCode);
            await replicator.ReleaseAsync(default);
            Exec(c, "CREATE TABLE t(x)");
            Exec(c, "INSERT INTO t VALUES (1)");

            // Now the VFS writer holds it: a replicator, or a second writer, is refused.
            var other = new ReplicaLease(client, new LeaseOptions(), NullLogger.Instance);
            LeaseException held = await Assert.ThrowsAsync<LeaseException>(() => other.AcquireAsync(default).AsTask());
            Assert.Contains("is held by host", held.Message);
            string second = $"w2-{Guid.NewGuid():N}.db";
            LitestreamVfs.AddReplica(second, client, new VfsReplicaOptions { WriteEnabled = true });
            try
            {
                using var c2 = new SqliteConnection(Open(second));
                c2.Open();
                Assert.Equal(Busy, Assert.Throws<SqliteException>(() => Exec(c2, "CREATE TABLE u(x)")).SqliteErrorCode);
            }
            finally
            {
                LitestreamVfs.RemoveReplica(second);
            }
        }
        finally
        {
            LitestreamVfs.RemoveReplica(name);
        }
        string restored = Path.Combine(dir, "restored.db");
        await Restorer.RestoreAsync(client, new RestoreOptions { OutputPath = restored, IntegrityCheck = IntegrityCheck.Full }, default);
        using var r = new SqliteConnection($"Data Source={restored};Pooling=False");
        r.Open();
        Assert.Equal(1L, Scalar(r, "SELECT count(*) FROM t"));
    }

    [RequiresFact]
    public async Task ReplicaMovedPastTheBufferedCommits_IsAConflict_AndNothingOfThemIsUploaded()
    {
        string dir = TestRepo.TempDir();
        var client = new FileReplicaClient(Path.Combine(dir, "replica"));
        string name = $"w-{Guid.NewGuid():N}.db";
        LitestreamVfs.AddReplica(name, client, new VfsReplicaOptions { WriteEnabled = true, SyncInterval = TimeSpan.FromMilliseconds(100) });
        try
        {
            using var c = new SqliteConnection(Open(name));
            c.Open();
            Exec(c, "CREATE TABLE t(x)");
            await Wait.UntilAsync(() => Scalar(c, "PRAGMA litestream_txid") as string == new Txid(1).ToString(), "the first upload");
            // A file at the next TXID lands from elsewhere (a writer that ignored the lease) while a commit is buffered.
            Exec(c, "PRAGMA busy_timeout = 0");
            await using (var foreign = new MemoryStream())
            {
                using (var encoder = new LtxEncoder(foreign, leaveOpen: true))
                {
                    encoder.EncodeHeader(new LtxHeader { Flags = LtxConstants.HeaderFlagNoChecksum, PageSize = 4096, Commit = 2, MinTxid = new Txid(2), MaxTxid = new Txid(2), Timestamp = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() });
                    encoder.EncodePage(2, new byte[4096]);
                    encoder.Close(0);
                }
                foreign.Position = 0;
                Exec(c, "INSERT INTO t VALUES (1)"); // buffered: the sync loop runs every 100 ms
                await client.WriteLtxFileAsync(0, new Txid(2), new Txid(2), foreign, default);
            }
            await Wait.UntilAsync(() =>
            {
                try
                {
                    Exec(c, "INSERT INTO t VALUES (2)");
                    return false;
                }
                catch (SqliteException e) when (e.SqliteErrorCode == Busy)
                {
                    return true;
                }
            }, "writes to be refused after the conflict");
            Assert.Equal(Busy, Assert.Throws<SqliteException>(() => Exec(c, "INSERT INTO t VALUES (3)")).SqliteErrorCode);
        }
        finally
        {
            LitestreamVfs.RemoveReplica(name);
        }
        // Nothing after the foreign file: the conflicting commits were never uploaded.
        List<LtxFileInfo> files = await client.ListLtxFilesAsync(0, Txid.Zero, false, default).ToListAsync();
        Assert.Equal([1UL, 2UL], files.Select(f => f.MaxTxid.Value));
    }

    private static async Task<LtxHeader> ReadHeaderAsync(FileReplicaClient client, LtxFileInfo info)
    {
        await using Stream s = await client.OpenLtxFileAsync(info.Level, info.MinTxid, info.MaxTxid, 0, LtxHeader.Size, default);
        byte[] header = new byte[LtxHeader.Size];
        await s.ReadExactlyAsync(header);
        return LtxHeader.Read(header);
    }
}
