using Litestream.Ltx;
using Litestream.Replication;
using Litestream.Storage.File;

namespace Litestream.Tests.Replication;

/// <summary>Replica.ValidateAsync: a faithful replica validates at the database's TXID; a damaged one fails, saying why.</summary>
public class ReplicaValidatorTests
{
    /// <summary>Text rows padded up to 300 bytes: a few hundred make a database of several pages.</summary>
    private static void Write(string db, int rows, int start = 0) => SqliteWriter.Write(db, new Workload { Commits = rows, Start = start, Pad = 300 });

    /// <summary>A database of <paramref name="rows"/> rows written by another process, synced and uploaded to a file replica.</summary>
    private static async Task<(Db Db, Replica Replica)> ReplicatedAsync(int rows)
    {
        string dir = TestRepo.TempDir();
        string path = Path.Combine(dir, "app.db");
        Write(path, rows);
        var db = new Db(path);
        db.Open();
        var replica = new Replica(db, new FileReplicaClient(Path.Combine(dir, "replica")));
        db.Sync();
        await replica.SyncAsync();
        return (db, replica);
    }

    [Fact]
    public async Task ValidateAsync_FaithfulReplica_OkAtTheDatabaseTxidAndNothingLeftBehind()
    {
        (Db db, Replica replica) = await ReplicatedAsync(rows: 200);
        await using var _ = db;
        // Committed after the last upload: validation uploads it first, then compares at the new TXID.
        Write(db.Path, 30, start: 200);

        ValidationResult result = await replica.ValidateAsync();

        Assert.True(result.Ok, result.Error);
        Assert.Null(result.Error);
        Assert.Equal(db.Txid, result.Txid);
        Assert.True(result.Txid > new Txid(1));
        Assert.Same(result, replica.LastValidation);
        Assert.Empty(Directory.GetFiles(Path.Combine(db.MetaPath, "validation")));
    }

    [Fact]
    public async Task ValidateAsync_DamagedReplicaFile_FailsNamingTheChecksum()
    {
        (Db db, Replica replica) = await ReplicatedAsync(rows: 100);
        await using var _ = db;
        var client = (FileReplicaClient)replica.Client;
        // Flip one byte inside the first file's page data (past the 100-byte header): the replica no longer restores.
        string first = client.LtxFilePath(0, new Txid(1), new Txid(1));
        byte[] bytes = File.ReadAllBytes(first);
        bytes[bytes.Length / 2] ^= 0xFF;
        File.WriteAllBytes(first, bytes);

        ValidationResult result = await replica.ValidateAsync();

        Assert.False(result.Ok);
        Assert.Equal(db.Txid, result.Txid);
        Assert.Matches("checksum|lz4|corrupt|invalid", result.Error!.ToLowerInvariant());
        Assert.Empty(Directory.GetFiles(Path.Combine(db.MetaPath, "validation")));
    }
}
