using Litestream.Hosting.Tests.Fixtures;
using Litestream.Ltx;
using Litestream.Replication;
using Litestream.Restore;
using Litestream.Storage;
using Litestream.Storage.File;

namespace Litestream.Hosting.Tests;

/// <summary>
/// The engine embedded through its public API only: the application writes through Microsoft.Data.Sqlite while a
/// <see cref="Store"/> replicates in the background in the same process, then a restore through
/// <see cref="Replica.RestoreAsync"/> must reproduce the application's rows exactly.
/// </summary>
public sealed class EmbeddingTests
{
    [Fact]
    public async Task Store_AppWritesThroughMicrosoftDataSqlite_FileReplicaRestoresSameRows()
    {
        using var dir = new TempDirectory();
        await using IReplicaClient client = ReplicaClientFactory.CreateFromUrl("file://" + dir.File("replica"));
        Assert.IsType<FileReplicaClient>(client);
        await ReplicateWhileAppWritesAsync(dir, client);
    }

    [RequiresFact(Need.S3rver)]
    public async Task Store_AppWritesThroughMicrosoftDataSqlite_S3ReplicaRestoresSameRows()
    {
        using var dir = new TempDirectory();
        using var s3 = new S3rver();
        await using IReplicaClient client = ReplicaClientFactory.Create(new ReplicaSettings
        {
            Url = s3.Url("embedding/app.db"),
            Options = new Dictionary<string, string> { ["access-key-id"] = S3rver.Credential, ["secret-access-key"] = S3rver.Credential },
        });
        Assert.Equal("s3", client.Type);
        await ReplicateWhileAppWritesAsync(dir, client);
    }

    private static async Task ReplicateWhileAppWritesAsync(TempDirectory dir, IReplicaClient client)
    {
        string path = dir.File("app.db");
        AppDatabase.CreateSchema(path);
        AppDatabase.Write(path, seed: 1, transactions: 5, rowsPerTransaction: 20);

        var logs = new CapturingLogger();
        var db = new Db(path, new DbOptions { MonitorInterval = TimeSpan.FromMilliseconds(50) }, logs);
        var replica = new Replica(db, client, new ReplicaOptions { SyncInterval = TimeSpan.FromMilliseconds(50) }, logs);
        await using (var store = new Store([replica], logger: logs))
        {
            await store.OpenAsync();
            Assert.True(db.IsOpen);

            // The app keeps writing (a connection per transaction, closed each time) while the store replicates.
            AppDatabase.Write(path, seed: 2, transactions: 40, rowsPerTransaction: 10);
            await store.SyncAsync();
            Assert.Equal(db.Txid, replica.RemoteTxid);

            string restored = dir.File("restored.db");
            RestoreResult result = await replica.RestoreAsync(new RestoreOptions { OutputPath = restored });
            Assert.Equal(db.Txid, result.Txid);
            List<AppDatabase.Row> expected = AppDatabase.ReadAll(path);
            // Every one of the 40 transactions written while replicating is there (a row or two each went to the DELETE).
            Assert.Equal(40, expected.Where(r => r.Name.StartsWith("seed2-", StringComparison.Ordinal)).Select(r => r.Name.Split('-')[1]).Distinct().Count());
            Assert.Equal(expected, AppDatabase.ReadAll(restored));
            Assert.Equal("ok", AppDatabase.IntegrityCheck(restored));

            // Write after the restore too, then let CloseAsync's final sync carry it.
            AppDatabase.Write(path, seed: 3, transactions: 3, rowsPerTransaction: 5);
        }
        Assert.False(db.IsOpen);

        string final = dir.File("final.db");
        RestoreResult last = await replica.RestoreAsync(new RestoreOptions { OutputPath = final });
        Assert.Equal(db.Txid, last.Txid);
        Assert.Equal(AppDatabase.ReadAll(path), AppDatabase.ReadAll(final));

        // One library in-process: the app's connections closing never dropped the engine's locks, so nobody
        // checkpointed or reset the WAL behind the engine's back and the chain stayed incremental after the
        // first snapshot.
        Assert.Single(logs.Lines, l => l.Contains("snapshot ", StringComparison.Ordinal) && l.Contains("reason:", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RestoreAsync_EmptyReplica_ThrowsNoBackupExceptionAndWritesNothing()
    {
        using var dir = new TempDirectory();
        string path = dir.File("app.db");
        await using var client = new FileReplicaClient(dir.File("replica"));
        var replica = new Replica(new Db(path), client);

        NoBackupException e = await Assert.ThrowsAsync<NoBackupException>(async () => await replica.RestoreAsync(new RestoreOptions()));

        Assert.Equal("no backups available: the replica has no ltx files", e.Message);
        Assert.Equal([], Directory.GetFiles(dir.Path));
    }

    [Fact]
    public async Task TryRestoreAsync_EmptyReplica_NullAndWritesNothing()
    {
        using var dir = new TempDirectory();
        await using var client = new FileReplicaClient(dir.File("replica"));
        var replica = new Replica(new Db(dir.File("app.db")), client);

        Assert.Null(await replica.TryRestoreAsync(new RestoreOptions()));
        Assert.Equal([], Directory.GetFiles(dir.Path));
    }

    [Fact]
    public async Task RestoreAsync_TxidPastReplica_ThrowsTxNotAvailableException()
    {
        using var dir = new TempDirectory();
        string path = dir.File("app.db");
        AppDatabase.CreateSchema(path);
        AppDatabase.Write(path, seed: 4, transactions: 2, rowsPerTransaction: 3);
        await using var client = new FileReplicaClient(dir.File("replica"));
        var replica = new Replica(new Db(path), client);
        await using (var store = new Store([replica]))
        {
            await store.OpenAsync();
            await store.SyncAsync();
        }
        Txid newest = replica.RemoteTxid!.Value;

        TxNotAvailableException e = await Assert.ThrowsAsync<TxNotAvailableException>(async () =>
            await replica.RestoreAsync(new RestoreOptions { OutputPath = dir.File("out.db"), Txid = new Txid(newest.Value + 5) }));

        Assert.Equal($"transaction not available: {new Txid(newest.Value + 5)} (replica ends at {newest})", e.Message);
        Assert.False(File.Exists(dir.File("out.db")));
    }

    [Fact]
    public async Task RestoreAsync_OverOpenDatabase_Throws()
    {
        using var dir = new TempDirectory();
        string path = dir.File("app.db");
        AppDatabase.CreateSchema(path);
        await using var client = new FileReplicaClient(dir.File("replica"));
        var replica = new Replica(new Db(path), client);
        await using var store = new Store([replica]);
        await store.OpenAsync();

        InvalidOperationException e = await Assert.ThrowsAsync<InvalidOperationException>(async () => await replica.RestoreAsync(new RestoreOptions()));

        Assert.Equal($"cannot restore over open database {path}", e.Message);
    }
}
