using System.Text;
using Litestream.Ltx;
using Litestream.Replication;
using Litestream.Restore;
using Litestream.Storage.File;

namespace Litestream.Tests.Replication;

/// <summary>
/// Client-side encryption end to end in the engine (docs/ENCRYPTION.md): every file the replica holds — L0 uploads,
/// compactions, level-9 snapshots — is sealed under the current key, no row text reaches storage, every TXID
/// restores exactly with the key, and without it (or with another) the restore fails and leaves no output.
/// </summary>
[Requires(Need.Python)]
public class EncryptionTests
{
    private static readonly LtxPageCipher s_key = new(Convert.FromHexString("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"));
    private static readonly LtxPageCipher s_other = new(Convert.FromHexString("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff000102030405060708090a0b0c0d0e0f"));

    private static void Write(string db, int batch) => SqliteWriter.Write(db, new Workload { Commits = 30, Start = 30 * batch, Pad = 200 });

    [RequiresFact]
    public async Task EncryptedReplica_EveryFileSealed_NoRowTextStored_EveryTxidRestores_AndNoKeyFailsCleanly()
    {
        string dir = TestRepo.TempDir();
        string path = Path.Combine(dir, "app.db");
        string replicaPath = Path.Combine(dir, "replica");
        var client = new FileReplicaClient(replicaPath);
        var keys = new LtxKeyRing(s_key);
        var states = new Dictionary<ulong, string>();
        Write(path, 0);
        await using (var db = new Db(path))
        {
            db.Open();
            var replica = new Replica(db, client, new ReplicaOptions { Encryption = keys });
            var compactor = new Compactor(replica);
            for (int batch = 1; batch <= 6; batch++)
            {
                db.Sync();
                await replica.SyncAsync(default);
                states[db.Txid.Value] = SqliteWriter.Dump(path);
                if (batch % 2 == 0)
                {
                    Assert.NotNull(await compactor.CompactAsync(1, default));
                }
                if (batch == 3)
                {
                    Assert.NotNull(await compactor.SnapshotAsync(default));
                }
                Write(path, batch);
            }
            db.Sync();
            await replica.SyncAsync(default);
            states[db.Txid.Value] = SqliteWriter.Dump(path);
        }

        string[] files = Directory.GetFiles(replicaPath, "*.ltx", SearchOption.AllDirectories);
        Assert.Contains(files, f => f.Contains($"{Path.DirectorySeparatorChar}1{Path.DirectorySeparatorChar}", StringComparison.Ordinal));
        Assert.Contains(files, f => f.Contains($"{Path.DirectorySeparatorChar}9{Path.DirectorySeparatorChar}", StringComparison.Ordinal));
        byte[] rowText = Encoding.ASCII.GetBytes(SqliteWriter.TextValue(47, 200)[..12]);
        foreach (string file in files)
        {
            byte[] bytes = File.ReadAllBytes(file);
            LtxHeader header = LtxHeader.Read(bytes);
            Assert.True(header.IsEncrypted && header.KeyId == s_key.KeyId, $"{file} is not sealed under the key");
            Assert.True(bytes.AsSpan().IndexOf(rowText) < 0, $"{file} holds row text");
        }

        foreach ((ulong txid, string state) in states)
        {
            string output = Path.Combine(dir, $"r-{txid}.db");
            await Restorer.RestoreAsync(client, new RestoreOptions { OutputPath = output, Txid = new Txid(txid), Encryption = keys }, default);
            Assert.Equal(state, SqliteWriter.Dump(output));
        }

        string refused = Path.Combine(dir, "refused.db");
        var missing = await Assert.ThrowsAsync<LtxKeyMissingException>(async () => await Restorer.RestoreAsync(client, new RestoreOptions { OutputPath = refused }, default));
        Assert.Equal($"encrypted with key id {LtxPageCipher.FormatKeyId(s_key.KeyId)} and no encryption key is configured", missing.Message);
        var wrong = await Assert.ThrowsAsync<LtxKeyMissingException>(async () => await Restorer.RestoreAsync(client, new RestoreOptions { OutputPath = refused, Encryption = new LtxKeyRing(s_other) }, default));
        Assert.EndsWith($"configured keys: {LtxPageCipher.FormatKeyId(s_other.KeyId)}", wrong.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(dir, "refused.db*"));
    }

    [RequiresFact]
    public async Task RotatedKey_OldFilesStillRestore_NewFilesUseTheNewKey_CompactionReencrypts()
    {
        string dir = TestRepo.TempDir();
        string path = Path.Combine(dir, "app.db");
        var client = new FileReplicaClient(Path.Combine(dir, "replica"));
        Write(path, 0);
        await using (var db = new Db(path))
        {
            db.Open();
            db.Sync();
            await new Replica(db, client, new ReplicaOptions { Encryption = new LtxKeyRing(s_other) }).SyncAsync(default);
            Write(path, 1);
            db.Sync();
            var rotated = new Replica(db, client, new ReplicaOptions { Encryption = new LtxKeyRing(s_key, s_other) });
            await rotated.SyncAsync(default);
            LtxFileInfo compacted = (await new Compactor(rotated).CompactAsync(1, default))!;
            byte[] header = new byte[LtxConstants.HeaderSize];
            using (FileStream stream = File.OpenRead(client.LtxFilePath(1, compacted.MinTxid, compacted.MaxTxid)))
            {
                stream.ReadExactly(header);
            }
            Assert.Equal(s_key.KeyId, LtxHeader.Read(header).KeyId);
        }
        string output = Path.Combine(dir, "restored.db");
        await Restorer.RestoreAsync(client, new RestoreOptions { OutputPath = output, Encryption = new LtxKeyRing(s_key, s_other) }, default);
        Assert.Equal(SqliteWriter.Dump(path), SqliteWriter.Dump(output));
    }

    [RequiresFact]
    public async Task Reencryption_PlainAndOldKeyFiles_RewrittenUnderTheCurrentKey_EveryTxidStillRestores_DryRunWritesNothing()
    {
        string dir = TestRepo.TempDir();
        string path = Path.Combine(dir, "app.db");
        string replicaPath = Path.Combine(dir, "replica");
        var client = new FileReplicaClient(replicaPath);
        var states = new Dictionary<ulong, string>();
        Write(path, 0);
        await using (var db = new Db(path))
        {
            db.Open();
            // Plain files, then files under the old key, those compacted into L1 under the old key.
            var replicas = new[] { new Replica(db, client), new Replica(db, client, new ReplicaOptions { Encryption = new LtxKeyRing(s_other) }) };
            for (int batch = 1; batch <= 4; batch++)
            {
                Replica replica = replicas[(batch - 1) / 2];
                db.Sync();
                await replica.SyncAsync(default);
                states[db.Txid.Value] = SqliteWriter.Dump(path);
                if (batch == 4)
                {
                    Assert.NotNull(await new Compactor(replica).CompactAsync(1, default));
                }
                Write(path, batch);
            }
        }
        string[] Files() => Directory.GetFiles(replicaPath, "*.ltx", SearchOption.AllDirectories);
        Dictionary<string, byte[]> before = Files().ToDictionary(f => f, File.ReadAllBytes);
        var ring = new LtxKeyRing(s_key, s_other);

        List<ReencryptedFile> dry = await ReplicaReencryption.RunAsync(client, ring, dryRun: true).ToListAsync();
        Assert.Equal(before.Count, dry.Count);
        Assert.All(dry, f => Assert.False(f.Rewritten));
        int plain = before.Values.Count(b => !LtxHeader.Read(b).IsEncrypted);
        Assert.InRange(plain, 1, before.Count - 2);
        Assert.Equal(plain, dry.Count(f => f.KeyId == 0));
        Assert.Equal(before.Count - plain, dry.Count(f => f.KeyId == s_other.KeyId));
        Assert.All(Files(), f => Assert.Equal(before[f], File.ReadAllBytes(f)));

        // A ring without the old key refuses before rewriting anything of that key.
        await Assert.ThrowsAsync<LtxKeyMissingException>(async () => await ReplicaReencryption.RunAsync(client, new LtxKeyRing(s_key), dryRun: false).ToListAsync());

        List<ReencryptedFile> done = await ReplicaReencryption.RunAsync(client, ring, dryRun: false).ToListAsync();
        // The refused pass had rewritten the plain L0 files (no key needed to read them) before it met the old key.
        Assert.Equal(plain, done.Count(f => f.KeyId == s_key.KeyId && !f.Rewritten));
        Assert.All(done.Where(f => f.KeyId == s_other.KeyId), f => Assert.True(f.Rewritten));
        Assert.Equal(before.Count - plain, done.Count(f => f.KeyId == s_other.KeyId));
        foreach (string file in Files())
        {
            LtxHeader header = LtxHeader.Read(File.ReadAllBytes(file));
            Assert.True(header.IsEncrypted && header.KeyId == s_key.KeyId, $"{file} is not under the current key");
            Assert.Equal(LtxHeader.Read(before[file]).Timestamp, header.Timestamp);
        }
        Assert.All(await ReplicaReencryption.RunAsync(client, ring, dryRun: false).ToListAsync(), f => Assert.False(f.Rewritten));

        // The old key is no longer needed for any TXID.
        foreach ((ulong txid, string state) in states)
        {
            string output = Path.Combine(dir, $"r-{txid}.db");
            await Restorer.RestoreAsync(client, new RestoreOptions { OutputPath = output, Txid = new Txid(txid), Encryption = new LtxKeyRing(s_key) }, default);
            Assert.Equal(state, SqliteWriter.Dump(output));
        }
    }
}
