using Litestream.Ltx;
using Litestream.Replication;
using Litestream.Restore;
using Litestream.Storage.File;
using Litestream.Vfs;
using Microsoft.Data.Sqlite;
using static Litestream.Tests.Vfs.LitestreamVfsTests;

namespace Litestream.Tests.Vfs;

/// <summary>
/// The VFS over an encrypted replica (docs/ENCRYPTION.md): pages are opened one at a time from sealed files, the
/// replica is followed and hydrated with the key, and a missing or wrong key, or a tampered page, is an SQLite
/// error — never plaintext garbage.
/// </summary>
[Requires(Need.Python)]
public class VfsEncryptionTests
{
    private static readonly LtxPageCipher s_key = new(Convert.FromHexString("1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100"));
    private static readonly LtxPageCipher s_other = new(Convert.FromHexString("a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"));

    private static async Task<(Db Source, Replica Replica, FileReplicaClient Client, string Dir)> EncryptedSourceAsync(int rows)
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        var client = new FileReplicaClient(Path.Combine(dir, "replica"));
        Write(db, rows);
        var source = new Db(db);
        source.Open();
        var replica = new Replica(source, client, new ReplicaOptions { Encryption = new LtxKeyRing(s_key) });
        await ShipAsync(source, replica);
        return (source, replica, client, dir);
    }

    private static string ConnectionString(string name) => $"Data Source=file:{name}?vfs=litestream;Mode=ReadOnly;Pooling=False";

    [RequiresFact]
    public async Task EncryptedReplica_ReadPageByPage_FollowsNewFilesAndCompaction_HydratesToARestoreEqualCopy()
    {
        (Db source, Replica replica, FileReplicaClient client, string dir) = await EncryptedSourceAsync(300);
        await using Db _ = source;
        // A key ring whose current key is another one: files under a previous key are read too.
        var keys = new LtxKeyRing(s_other, s_key);
        string name = $"sealed-{Guid.NewGuid():N}.db";
        LitestreamVfs.AddReplica(name, client, new VfsReplicaOptions { PollInterval = TimeSpan.FromMilliseconds(100), CacheSize = 0, Encryption = keys });
        using (var c = new SqliteConnection(ConnectionString(name)))
        {
            c.Open();
            Assert.Equal(300L, Scalar(c, "SELECT count(*) FROM t"));
            Assert.Equal(SqliteWriter.TextValue(299, Pad), Scalar(c, "SELECT v FROM t WHERE id = 300"));
            Assert.Equal("ok", Scalar(c, "PRAGMA integrity_check"));

            await ShipAsync(source, replica, newRows: 40);
            await Wait.UntilAsync(() => (long)Scalar(c, "SELECT count(*) FROM t") == 340L, "the VFS to pick up the sealed L0 file");
            Assert.NotNull(await new Compactor(replica).CompactAsync(1, default));
            foreach (string file in Directory.GetFiles(Path.Combine(dir, "replica", "ltx", "0")))
            {
                File.Delete(file);
            }
            // The rebuilt index maps pages to the sealed L1 file: every page still opens.
            Assert.Equal("ok", Scalar(c, "PRAGMA integrity_check"));
            Assert.Equal(SqliteWriter.TextValue(39, Pad), Scalar(c, "SELECT v FROM t WHERE id = 340"));
            Assert.Equal(source.Txid.ToString(), Scalar(c, "PRAGMA litestream_txid"));
        }
        Assert.True(LitestreamVfs.RemoveReplica(name));

        string hydrated = Path.Combine(dir, "hydrated.db");
        string hydrating = $"sealed-hydrate-{Guid.NewGuid():N}.db";
        LitestreamVfs.AddReplica(hydrating, client, new VfsReplicaOptions
        {
            PollInterval = TimeSpan.FromMilliseconds(100),
            CacheSize = 64 * 1024,
            HydrationEnabled = true,
            HydrationPath = hydrated,
            Encryption = keys,
        });
        using (var c = new SqliteConnection(ConnectionString(hydrating)))
        {
            c.Open();
            Assert.Equal(340L, Scalar(c, "SELECT count(*) FROM t"));
            await ShipAsync(source, replica, newRows: 10);
            await Wait.UntilAsync(() => (string)Scalar(c, "PRAGMA litestream_hydration_progress") == "100.0"
                && LitestreamVfs.Resolve(hydrating, null)!.Hydrator!.LocalTxid == source.Txid, "hydration to reach the writer's last TXID");
            Assert.Equal(350L, Scalar(c, "SELECT count(*) FROM t"));
            Assert.Null(LitestreamVfs.Resolve(hydrating, null)!.Hydrator!.LastError);
        }
        string restored = Path.Combine(dir, "restored.db");
        await Restorer.RestoreAsync(client, new RestoreOptions { OutputPath = restored, Encryption = keys }, default);
        Assert.Equal(SqliteWriter.Dump(restored), SqliteWriter.Dump(hydrated));
        Assert.True(LitestreamVfs.RemoveReplica(hydrating));
    }

    [RequiresFact]
    public async Task EncryptedReplica_NoKeyOrAnotherKey_CantOpen_ATamperedPage_IsCorrupt()
    {
        (Db source, Replica _, FileReplicaClient client, string dir) = await EncryptedSourceAsync(200);
        await using Db __ = source;

        foreach (LtxKeyRing? keys in new[] { null, new LtxKeyRing(s_other) })
        {
            string name = $"nokey-{Guid.NewGuid():N}.db";
            LitestreamVfs.AddReplica(name, client, new VfsReplicaOptions { Encryption = keys });
            using var c = new SqliteConnection(ConnectionString(name));
            var refused = Assert.Throws<SqliteException>(() =>
            {
                c.Open();
                return Scalar(c, "SELECT count(*) FROM t");
            });
            Assert.Equal(14, refused.SqliteErrorCode); // SQLITE_CANTOPEN
            Assert.True(LitestreamVfs.RemoveReplica(name));
        }

        // One byte of table t's root page (page 2, read by any query of t) changed in place: it fails authentication.
        string file = Directory.GetFiles(Path.Combine(dir, "replica", "ltx", "0")).Single();
        LtxPageIndexEntry victim;
        using (var handle = File.OpenHandle(file))
        {
            victim = LtxRandomAccess.ReadPageIndex(handle).Entries.Single(e => e.Pgno == 2);
        }
        using (var stream = new FileStream(file, FileMode.Open, FileAccess.ReadWrite))
        {
            stream.Position = victim.Offset + victim.Size - 20; // inside the ciphertext, before the tag
            int b = stream.ReadByte();
            stream.Position--;
            stream.WriteByte((byte)(b ^ 0x01));
        }
        string tampered = $"tampered-{Guid.NewGuid():N}.db";
        LitestreamVfs.AddReplica(tampered, client, new VfsReplicaOptions { CacheSize = 0, Encryption = new LtxKeyRing(s_key) });
        using (var c = new SqliteConnection(ConnectionString(tampered)))
        {
            c.Open();
            var corrupt = Assert.Throws<SqliteException>(() => Scalar(c, "SELECT count(*) FROM t"));
            Assert.Equal(11, corrupt.SqliteErrorCode); // SQLITE_CORRUPT
        }
        Assert.True(LitestreamVfs.RemoveReplica(tampered));
    }
}
