using Litestream.Ltx;
using Litestream.Ltx.Tests.Fixtures;
using Litestream.Replication;
using Litestream.Restore;
using Litestream.Storage.File;

namespace Litestream.Tests.Restore;

[Requires(Need.Python)]
public class FollowerTests
{
    /// <summary>Text rows of varied length; <paramref name="shrink"/> then deletes every other row and VACUUMs (the database gets smaller).</summary>
    private static void Write(string db, int rows, bool shrink = false)
        => SqliteWriter.Write(db, new Workload { Commits = rows, Pad = 900, Delete = shrink ? "id % 2 = 0" : null, Vacuum = shrink });

    /// <summary>app.db, filled by the python writer and replicated in process to replica/; follow.db beside it is the follower's output.</summary>
    private sealed class Shipped : IAsyncDisposable
    {
        private readonly Replica _replica;

        private Shipped(string dir, Db source)
        {
            Source = source;
            Output = Path.Combine(dir, "follow.db");
            Client = new FileReplicaClient(Path.Combine(dir, "replica"));
            _replica = new Replica(source, Client);
        }

        public Db Source { get; }

        public string Output { get; }

        public FileReplicaClient Client { get; }

        /// <summary>A database of <paramref name="rows"/> rows, replicated.</summary>
        public static async Task<Shipped> StartAsync(int rows)
        {
            string dir = TestRepo.TempDir();
            string db = Path.Combine(dir, "app.db");
            Write(db, rows);
            var source = new Db(db);
            source.Open();
            var shipped = new Shipped(dir, source);
            await shipped.ShipAsync();
            return shipped;
        }

        /// <summary>Captures what the writer committed and uploads it.</summary>
        public async Task ShipAsync()
        {
            Source.Sync();
            await _replica.SyncAsync(default);
        }

        public ValueTask DisposeAsync() => Source.DisposeAsync();
    }

    [RequiresFact]
    public async Task Follow_AppliesNewFilesIncludingShrink_AndResumesFromTxidFile()
    {
        await using Shipped shipped = await Shipped.StartAsync(100);
        (Db source, string db, string output, FileReplicaClient client) = (shipped.Source, shipped.Source.Path, shipped.Output, shipped.Client);
        Task Ship() => shipped.ShipAsync();

        await using (Follower follower = await Follower.StartAsync(client, new RestoreOptions { OutputPath = output }, null, default))
        {
            Assert.Equal(new Txid(1), follower.Txid);
            Write(db, 300);
            await Ship();
            Write(db, 10, shrink: true);
            await Ship();
            Assert.Equal(2, await follower.PollAsync(default));
            Assert.Equal(source.Txid, follower.Txid);
            Assert.Equal(SqliteWriter.Dump(db, readOnly: true), SqliteWriter.Dump(output, readOnly: true));
            Assert.Equal(0, await follower.PollAsync(default));
        }
        Assert.Equal($"{source.Txid}\n", File.ReadAllText(output + "-txid"));
        Assert.False(File.Exists(output + "-wal"));

        Write(db, 50);
        await Ship();
        await using (Follower resumed = await Follower.StartAsync(client, new RestoreOptions { OutputPath = output }, null, default))
        {
            Assert.Equal(1, await resumed.PollAsync(default));
            Assert.Equal(SqliteWriter.Dump(db, readOnly: true), SqliteWriter.Dump(output, readOnly: true));
        }
    }

    [RequiresFact]
    public async Task Follow_FileThatGrowsTheDatabasePastItsPages_RefusedNamingIt_DatabaseUntouched()
    {
        await using Shipped shipped = await Shipped.StartAsync(100);
        await using Follower follower = await Follower.StartAsync(shipped.Client, new RestoreOptions { OutputPath = shipped.Output }, null, default);
        byte[] before = File.ReadAllBytes(shipped.Output);

        Write(shipped.Source.Path, 300);
        await shipped.ShipAsync();
        string next = shipped.Client.LtxFilePath(0, new Txid(2), new Txid(2));
        (LtxHeader header, List<(uint Pgno, byte[] Page)> pages) = LtxFileBuilder.Decode(File.ReadAllBytes(next));
        File.WriteAllBytes(next, LtxFileBuilder.BuildUnchecked(header with { Commit = 0xFFFFFFF0 }, pages));

        var error = await Assert.ThrowsAsync<LtxFormatException>(async () => await follower.PollAsync(default));
        Assert.Equal($"ltx/0/0000000000000002-0000000000000002.ltx: commit 4294967280 grows the database from {before.Length / 4096} pages past the file's last page {pages[^1].Pgno} (page size 4096)", error.Message);
        Assert.Equal(before, File.ReadAllBytes(shipped.Output));
        Assert.Equal(new Txid(1), follower.Txid);
    }

    [RequiresFact]
    public async Task Follow_GapInTheReplica_RefusedNamingWhereTheChainBreaks_NothingApplied()
    {
        await using Shipped shipped = await Shipped.StartAsync(100);
        await using Follower follower = await Follower.StartAsync(shipped.Client, new RestoreOptions { OutputPath = shipped.Output }, null, default);
        byte[] before = File.ReadAllBytes(shipped.Output);
        for (int i = 0; i < 3; i++)
        {
            Write(shipped.Source.Path, 10);
            await shipped.ShipAsync();
        }
        File.Delete(shipped.Client.LtxFilePath(0, new Txid(3), new Txid(3)));

        var error = await Assert.ThrowsAsync<NonContiguousReplicaException>(async () => await follower.PollAsync(default));
        Assert.Equal("non-contiguous ltx files: level 0 continues at 0000000000000004 but the chain ends at 0000000000000002", error.Message);
        Assert.Equal(new Txid(1), follower.Txid);
        Assert.Equal("0000000000000001\n", File.ReadAllText(shipped.Output + "-txid"));
        Assert.Equal(before, File.ReadAllBytes(shipped.Output));
    }

    [RequiresFact]
    public async Task Follow_ExistingDatabaseWithoutTxidFile_Refused()
    {
        string dir = TestRepo.TempDir();
        string output = Path.Combine(dir, "x.db");
        File.WriteAllText(output, "not ours");
        var error = await Assert.ThrowsAsync<IOException>(async () =>
            await Follower.StartAsync(new FileReplicaClient(Path.Combine(dir, "r")), new RestoreOptions { OutputPath = output }, null, default));
        Assert.StartsWith("output file already exists and has no follow position", error.Message);
    }
}
