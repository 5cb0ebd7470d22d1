using System.Collections.Concurrent;
using System.Globalization;
using Litestream.Ltx;
using Litestream.Replication;
using Litestream.Restore;
using Litestream.Storage.File;
using Litestream.Vfs;
using Microsoft.Data.Sqlite;
using static Litestream.Tests.Vfs.LitestreamVfsTests;

namespace Litestream.Tests.Vfs;

/// <summary>
/// VFS hydration in process: the replica downloads to a local copy in the background while a writer process
/// commits and a replicator uploads; reads switch to the copy only at the TXID they pinned, the copy follows
/// new files, progress ends at 100, the copy equals a restore, and leftovers of a killed run are never read.
/// </summary>
[Requires(Need.Python)]
public class VfsHydrationTests
{
    private const int Batch = 10;

    /// <summary>A source database with <paramref name="rows"/> rows shipped to a file replica.</summary>
    private static async Task<(Db Source, Replica Replica, FileReplicaClient Client, string Dir)> SourceAsync(int rows)
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        var client = new FileReplicaClient(Path.Combine(dir, "replica"));
        Write(db, rows);
        var source = new Db(db);
        source.Open();
        var replica = new Replica(source, client);
        await ShipAsync(source, replica);
        return (source, replica, client, dir);
    }

    private static VfsReplicaOptions Hydrating(string? path) => new()
    {
        PollInterval = TimeSpan.FromMilliseconds(100),
        CacheSize = 64 * 1024,
        HydrationEnabled = true,
        HydrationPath = path,
    };

    private static VfsHydrator HydratorOf(string name) => LitestreamVfs.Resolve(name, null)!.Hydrator!;

    private static string Progress(SqliteConnection c) => (string)Scalar(c, "PRAGMA litestream_hydration_progress");

    /// <summary>Count of rows and the pinned TXID, read in one read transaction.</summary>
    private static (long Count, ulong Txid) CountAtTxid(SqliteConnection c)
    {
        Exec(c, "BEGIN");
        try
        {
            long count = (long)Scalar(c, "SELECT count(*) FROM t");
            ulong txid = ulong.Parse((string)Scalar(c, "PRAGMA litestream_txid"), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            return (count, txid);
        }
        finally
        {
            Exec(c, "COMMIT");
        }
    }

    private static async Task AssertEqualsRestoreAsync(FileReplicaClient client, string hydrated, string dir)
    {
        string restored = Path.Combine(dir, $"restored-{Guid.NewGuid():N}.db");
        await Restorer.RestoreAsync(client, new RestoreOptions { OutputPath = restored, IntegrityCheck = IntegrityCheck.None }, default);
        Assert.True(ReadShared(restored).AsSpan().SequenceEqual(ReadShared(hydrated)), "the hydrated copy differs from a restore");
    }

    private static byte[] ReadShared(string path)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        byte[] data = new byte[file.Length];
        file.ReadExactly(data);
        return data;
    }

    [RequiresFact]
    public async Task Hydration_SwitchesToTheLocalCopy_WhileAWriterCommits_ReadsStayExact_CopyEqualsARestore()
    {
        (Db source, Replica replica, FileReplicaClient client, string dir) = await SourceAsync(300);
        await using Db _ = source;
        string path = Path.Combine(dir, "hydrated.db");
        string name = $"hydrate-{Guid.NewGuid():N}.db";
        // The count every published TXID must show (recorded before its upload, so a reader never sees an unknown TXID).
        var expected = new ConcurrentDictionary<ulong, long> { [source.Txid.Value] = 300 };
        LitestreamVfs.AddReplica(name, client, Hydrating(path));
        string cs = $"Data Source=file:{name}?vfs=litestream;Mode=ReadOnly;Pooling=False";
        using var c = new SqliteConnection(cs);
        c.Open();
        Assert.Equal(path, Scalar(c, "PRAGMA litestream_hydration_file"));
        var ro = Assert.Throws<SqliteException>(() => Exec(c, "PRAGMA litestream_hydration_progress = 5"));
        Assert.Contains("read-only", ro.Message);

        var progress = new List<double> { double.Parse(Progress(c), CultureInfo.InvariantCulture) };
        long total = 300;
        using var writing = new CancellationTokenSource();
        Task writer = Task.Run(async () =>
        {
            for (int i = 0; i < 15; i++)
            {
                Write(source.Path, Batch);
                source.Sync();
                expected[source.Txid.Value] = Interlocked.Add(ref total, Batch);
                await replica.SyncAsync(default);
            }
        });
        int reads = 0;
        while (!writer.IsCompleted || reads == 0)
        {
            (long count, ulong txid) = CountAtTxid(c);
            Assert.True(expected.TryGetValue(txid, out long want), $"txid {txid:x} was never published");
            Assert.Equal(want, count);
            progress.Add(double.Parse(Progress(c), CultureInfo.InvariantCulture));
            reads++;
        }
        await writer;
        VfsHydrator hydrator = HydratorOf(name);
        Assert.True(hydrator.LocalReads > 0, "reads switched to the copy while the writer committed");

        await Wait.UntilAsync(() => Progress(c) == "100.0" && hydrator.LocalTxid == source.Txid, "the local copy to catch up with the writer");
        progress.Add(100);
        Assert.Equal(progress.Order(), progress); // 0 → 100, never backwards
        long localReads = hydrator.LocalReads;
        (long finalCount, ulong finalTxid) = CountAtTxid(c);
        Assert.Equal(source.Txid.Value, finalTxid);
        Assert.Equal(300 + 15 * Batch, finalCount);
        Assert.Equal(SqliteWriter.TextValue(Batch - 1, Pad), Scalar(c, $"SELECT v FROM t WHERE id = {finalCount}"));
        Assert.Equal("ok", Scalar(c, "PRAGMA integrity_check"));
        Assert.True(hydrator.LocalReads > localReads, "reads at the copy's TXID come from the copy");
        Assert.Null(hydrator.LastError);
        await AssertEqualsRestoreAsync(client, path, dir);

        Assert.True(LitestreamVfs.RemoveReplica(name));
        Assert.True(File.Exists(path)); // a named copy stays
        Assert.False(File.Exists(path + ".lock"));
    }

    [RequiresFact]
    public async Task Hydration_AReadTransactionPinnedOnTheCopy_KeepsItsTxid_TheCopyAdvancesAfterIt()
    {
        (Db source, Replica replica, FileReplicaClient client, string dir) = await SourceAsync(200);
        await using Db _ = source;
        string path = Path.Combine(dir, "hydrated.db");
        string name = $"pin-{Guid.NewGuid():N}.db";
        LitestreamVfs.AddReplica(name, client, Hydrating(path));
        string cs = $"Data Source=file:{name}?vfs=litestream;Mode=ReadOnly;Pooling=False";
        using var pinned = new SqliteConnection(cs);
        using var other = new SqliteConnection(cs);
        pinned.Open();
        other.Open();
        VfsHydrator hydrator = HydratorOf(name);
        Txid first = source.Txid;
        await Wait.UntilAsync(() => hydrator.LocalTxid == first, "hydration");

        // A page cache far smaller than the table: every scan reads through the VFS again.
        Exec(pinned, "PRAGMA cache_size = 5");
        Exec(pinned, "BEGIN");
        long before = hydrator.LocalReads;
        Assert.Equal(200L, Scalar(pinned, "SELECT count(*) FROM t"));
        Assert.True(hydrator.LocalReads > before, "the transaction reads the copy");

        await ShipAsync(source, replica, newRows: 40);
        await Wait.UntilAsync(() => (long)Scalar(other, "SELECT count(*) FROM t") == 240L, "another connection to see the new rows");
        // The copy may not change under the pinned transaction: it still reads its TXID, from the copy.
        Assert.Equal(first, hydrator.LocalTxid);
        before = hydrator.LocalReads;
        Assert.Equal(200L, Scalar(pinned, "SELECT count(*) FROM t WHERE length(v) > 0"));
        Assert.Equal(SqliteWriter.TextValue(199, Pad), Scalar(pinned, "SELECT v FROM t WHERE id = 200"));
        Assert.Equal(first.ToString(), Scalar(pinned, "PRAGMA litestream_txid"));
        Assert.Equal(0L, Scalar(pinned, "SELECT count(*) FROM t WHERE id > 200"));
        Assert.True(hydrator.LocalReads > before, "still from the copy");
        Exec(pinned, "COMMIT");

        await Wait.UntilAsync(() => hydrator.LocalTxid == source.Txid, "the copy to apply the new file once the pin is gone");
        Assert.Equal(240L, Scalar(pinned, "SELECT count(*) FROM t"));
        Assert.Equal("ok", Scalar(pinned, "PRAGMA integrity_check"));
        await AssertEqualsRestoreAsync(client, path, dir);
        Assert.True(LitestreamVfs.RemoveReplica(name));
    }

    [RequiresFact]
    public async Task Hydration_LeftoversOfAKilledRun_AreReplaced_NeverRead()
    {
        (Db source, Replica replica, FileReplicaClient client, string dir) = await SourceAsync(150);
        await using Db _ = source;
        string path = Path.Combine(dir, "hydrated.db");
        // What a kill -9 can leave: a half-written temp file, and a copy that was being followed (here: garbage
        // of the right size, which a reader trusting it would serve as the database).
        byte[] garbage = new byte[new FileInfo(source.Path).Length];
        Random.Shared.NextBytes(garbage);
        File.WriteAllBytes(path, garbage);
        File.WriteAllBytes(path + ".tmp", garbage[..4096]);

        string name = $"restart-{Guid.NewGuid():N}.db";
        LitestreamVfs.AddReplica(name, client, Hydrating(path));
        using var c = new SqliteConnection($"Data Source=file:{name}?vfs=litestream;Mode=ReadOnly;Pooling=False");
        c.Open();
        VfsHydrator hydrator = HydratorOf(name);
        await Wait.UntilAsync(() => Progress(c) == "100.0", "hydration");
        Assert.Equal(150L, Scalar(c, "SELECT count(*) FROM t"));
        Assert.Equal("ok", Scalar(c, "PRAGMA integrity_check"));
        Assert.True(hydrator.LocalReads > 0);
        Assert.False(File.Exists(path + ".tmp"));
        await AssertEqualsRestoreAsync(client, path, dir);

        // A second replica may not hydrate to the same path (their temp files would replace each other's copy):
        // it reads from the replica, unhydrated.
        string twin = $"twin-{Guid.NewGuid():N}.db";
        LitestreamVfs.AddReplica(twin, client, Hydrating(path));
        using (var t = new SqliteConnection($"Data Source=file:{twin}?vfs=litestream;Mode=ReadOnly;Pooling=False"))
        {
            t.Open();
            Assert.Equal("", Scalar(t, "PRAGMA litestream_hydration_file"));
            Assert.Equal("0.0", Progress(t));
            Assert.Equal(150L, Scalar(t, "SELECT count(*) FROM t"));
        }
        Assert.True(LitestreamVfs.RemoveReplica(twin));

        // An abandoned hydration (the replica removed, then added again) hydrates afresh too.
        Assert.True(LitestreamVfs.RemoveReplica(name));
        await ShipAsync(source, replica, newRows: 20);
        LitestreamVfs.AddReplica(name, client, Hydrating(path));
        using var again = new SqliteConnection($"Data Source=file:{name}?vfs=litestream;Mode=ReadOnly;Pooling=False");
        again.Open();
        await Wait.UntilAsync(() => Progress(again) == "100.0", "hydration after the restart");
        Assert.Equal(170L, Scalar(again, "SELECT count(*) FROM t"));
        Assert.Equal(source.Txid, HydratorOf(name).LocalTxid);
        await AssertEqualsRestoreAsync(client, path, dir);
        Assert.True(LitestreamVfs.RemoveReplica(name));
    }

    [RequiresFact]
    public async Task Hydration_Disabled_PragmasSayZeroAndNoFile_TempCopyIsDeletedAtRemoval()
    {
        (Db source, Replica _, FileReplicaClient client, string _) = await SourceAsync(20);
        await using Db __ = source;
        string plain = $"plain-{Guid.NewGuid():N}.db";
        LitestreamVfs.AddReplica(plain, client, new VfsReplicaOptions { PollInterval = TimeSpan.FromMilliseconds(100) });
        using (var c = new SqliteConnection($"Data Source=file:{plain}?vfs=litestream;Mode=ReadOnly;Pooling=False"))
        {
            c.Open();
            Assert.Equal("0.0", Progress(c));
            Assert.Equal("", Scalar(c, "PRAGMA litestream_hydration_file"));
        }
        Assert.True(LitestreamVfs.RemoveReplica(plain));

        string temp = $"temp-{Guid.NewGuid():N}.db";
        LitestreamVfs.AddReplica(temp, client, Hydrating(null));
        string file;
        using (var c = new SqliteConnection($"Data Source=file:{temp}?vfs=litestream;Mode=ReadOnly;Pooling=False"))
        {
            c.Open();
            file = (string)Scalar(c, "PRAGMA litestream_hydration_file");
            Assert.StartsWith(Path.GetTempPath(), file);
            await Wait.UntilAsync(() => Progress(c) == "100.0", "hydration to a temp file");
            Assert.Equal(20L, Scalar(c, "SELECT count(*) FROM t"));
            Assert.True(File.Exists(file));
        }
        Assert.True(LitestreamVfs.RemoveReplica(temp));
        Assert.False(Directory.Exists(Path.GetDirectoryName(file)));
    }
}
