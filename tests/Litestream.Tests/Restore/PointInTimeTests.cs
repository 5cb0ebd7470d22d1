using Litestream.Ltx;
using Litestream.Replication;
using Litestream.Restore;
using Litestream.Storage.File;

namespace Litestream.Tests.Restore;

/// <summary>
/// Point-in-time restore by timestamp: the writer's state is recorded after every synced transaction
/// batch together with the time its L0 file was created; restoring to a time between two files gives
/// exactly the state of the last file created strictly before it, across L0, L1 and a snapshot.
/// </summary>
[Requires(Need.Python)]
public class PointInTimeTests
{
    [RequiresFact]
    public async Task Restore_ToTimestampsBetweenFiles_GivesStateOfLastFileBefore()
    {
        string dir = TestRepo.TempDir();
        string path = Path.Combine(dir, "app.db");
        var client = new FileReplicaClient(Path.Combine(dir, "replica"));
        var states = new List<(DateTimeOffset CreatedAt, string Dump)>();
        SqliteWriter.Write(path, 25);
        await using (var db = new Db(path))
        {
            db.Open();
            var replica = new Replica(db, client);
            var compactor = new Compactor(replica);
            for (int batch = 1; batch <= 8; batch++)
            {
                db.Sync();
                await replica.SyncAsync(default);
                LtxFileInfo file = await Newest(client, 0);
                states.Add((file.CreatedAt, SqliteWriter.Dump(path)));
                if (batch == 4)
                {
                    await compactor.CompactAsync(1, default);
                }
                if (batch == 6)
                {
                    await compactor.SnapshotAsync(default);
                }
                await Task.Delay(30); // separates the batches' timestamps, not a wait for something
                SqliteWriter.Write(path, 25, start: 25 * batch);
            }
        }
        for (int i = 0; i < states.Count; i++)
        {
            DateTimeOffset target = states[i].CreatedAt.AddMilliseconds(1);
            string output = Path.Combine(dir, $"pitr-{i}.db");
            await Restorer.RestoreAsync(client, new RestoreOptions { OutputPath = output, Timestamp = target }, default);
            Assert.Equal(states[i].Dump, SqliteWriter.Dump(output));
        }
        await Assert.ThrowsAsync<TxNotAvailableException>(async () => await Restorer.RestoreAsync(client,
            new RestoreOptions { OutputPath = Path.Combine(dir, "too-early.db"), Timestamp = states[0].CreatedAt.AddSeconds(-10) }, default));
    }

    private static async Task<LtxFileInfo> Newest(FileReplicaClient client, int level)
    {
        LtxFileInfo? newest = null;
        await foreach (LtxFileInfo f in client.ListLtxFilesAsync(level, Txid.Zero, false, default))
        {
            newest = f;
        }
        return newest!;
    }
}
