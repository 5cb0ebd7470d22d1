using Litestream.Lease;
using Litestream.Ltx;
using Litestream.Replication;
using Litestream.Restore;
using Litestream.Storage.File;

namespace Litestream.Tests.Lease;

/// <summary>
/// Fencing by lease generation: every file uploaded under a lease carries the generation in its header's NodeID,
/// and a restore refuses a file of an older generation that follows a newer one (a replicator that had lost the
/// lease and uploaded anyway), naming the file.
/// </summary>
[Requires(Need.Python)]
public class LeaseFencingTests
{
    private static readonly LeaseOptions s_lease = new() { Ttl = TimeSpan.FromSeconds(30) };

    [RequiresFact]
    public async Task Uploads_CarryTheirLeaseGeneration_AndRestoreRefusesAnOlderGenerationAfterANewer()
    {
        string dir = TestRepo.TempDir();
        string path = Path.Combine(dir, "app.db");
        var client = new FileReplicaClient(Path.Combine(dir, "replica"));
        async Task<Txid> Commit(int rows)
        {
            // replicate -once: each run takes the lease (the last one released it) under the next generation.
            SqliteWriter.Write(path, new Workload { Commits = rows, Pad = 100 });
            var db = new Db(path);
            await new Store([new Replica(db, client, new ReplicaOptions { Lease = s_lease })]).SyncOnceAsync();
            return db.Txid;
        }

        Txid first = await Commit(3);
        Txid second = await Commit(3);
        Assert.True(second > first, $"{second} > {first}");
        foreach (LtxFileInfo file in await ListAsync(client))
        {
            Assert.Equal(file.MaxTxid <= first ? 1 : 2, Generation(client, file));
        }
        string restored = Path.Combine(dir, "restored.db");
        await Restorer.RestoreAsync(client, new RestoreOptions { OutputPath = restored }, default);
        Assert.Equal(SqliteWriter.Dump(path), SqliteWriter.Dump(restored));

        // Generation 3 uploads the next transaction; then a generation-1 replicator's upload of it lands last.
        Txid third = await Commit(1);
        Assert.Equal(new Txid(second.Value + 1), third);
        string l0 = client.LtxFilePath(0, third, third);
        byte[] stale;
        using (var source = new MemoryStream(File.ReadAllBytes(l0)))
        using (var output = new MemoryStream())
        {
            LtxRewrite.Copy(source, output, LtxNodeId.FromLeaseGeneration(1));
            stale = output.ToArray();
        }
        Assert.Equal(3, Generation(client, (await ListAsync(client)).Single(f => f.MinTxid == third)));
        File.WriteAllBytes(l0, stale);

        var error = await Assert.ThrowsAsync<LtxFormatException>(async () =>
            await Restorer.RestoreAsync(client, new RestoreOptions { OutputPath = Path.Combine(dir, "refused.db") }, default));
        Assert.Equal($"ltx/0/{LtxFileName.Format(third, third)}: {third}-{third} was written under lease generation 1 after {second}-{second} under generation 2: a replicator that had lost the lease uploaded it", error.Message);
        Assert.False(File.Exists(Path.Combine(dir, "refused.db")));

        await Restorer.RestoreAsync(client, new RestoreOptions { OutputPath = Path.Combine(dir, "before.db"), Txid = second }, default);
        Assert.Equal(SqliteWriter.Dump(restored), SqliteWriter.Dump(Path.Combine(dir, "before.db")));
    }

    private static async Task<List<LtxFileInfo>> ListAsync(FileReplicaClient client)
    {
        var files = new List<LtxFileInfo>();
        for (int level = 0; level <= LtxConstants.SnapshotLevel; level++)
        {
            await foreach (LtxFileInfo file in client.ListLtxFilesAsync(level, Txid.Zero, useMetadata: false, default))
            {
                files.Add(file);
            }
        }
        Assert.NotEmpty(files);
        return files;
    }

    private static long Generation(FileReplicaClient client, LtxFileInfo file)
    {
        byte[] header = new byte[LtxConstants.HeaderSize];
        using (FileStream stream = File.OpenRead(client.LtxFilePath(file.Level, file.MinTxid, file.MaxTxid)))
        {
            stream.ReadExactly(header);
        }
        return LtxNodeId.LeaseGeneration(LtxHeader.Read(header).NodeId);
    }
}
