using Litestream.Ltx;
using Litestream.Replication;
using Litestream.Storage.File;

namespace Litestream.Tests.Replication;

/// <summary>Replica.ValidateAsync: a faithful replica validates at the database's TXID; a damaged one fails, saying why.</summary>
public class ReplicaValidatorTests
{
    private const string Writer = """
        import sqlite3, sys
        c = sqlite3.connect(sys.argv[1], isolation_level=None)
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v TEXT)")
        for i in range(int(sys.argv[2])):
            c.execute("INSERT INTO t(v) VALUES (?)", ("row%d-" % i + "x" * (i % 300),))
        """;

    /// <summary>A database of <paramref name="rows"/> rows written by another process, synced and uploaded to a file replica.</summary>
    private static async Task<(Db Db, Replica Replica)> ReplicatedAsync(int rows)
    {
        string dir = TestRepo.TempDir();
        string path = Path.Combine(dir, "app.db");
        Python.Run(Writer, path, rows.ToString(System.Globalization.CultureInfo.InvariantCulture));
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
        Python.Run(Writer, db.Path, "30");

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
