using Litestream.Ltx;
using Litestream.Storage;
using Litestream.Storage.File;

namespace Litestream.Tests.Storage;

public class FileReplicaClientTests
{
    private static MemoryStream LtxWithTimestamp(long timestamp, int size = 200)
    {
        byte[] bytes = new byte[size];
        new LtxHeader { PageSize = 512, Commit = 1, MinTxid = new Txid(1), MaxTxid = new Txid(1), Timestamp = timestamp, Flags = 2 }.Write(bytes);
        bytes[150] = 42;
        return new MemoryStream(bytes);
    }

    [Fact]
    public async Task Write_ThenList_OrderedWithHeaderTimestampAsCreated()
    {
        string root = TestRepo.TempDir();
        var client = new FileReplicaClient(root);
        await client.WriteLtxFileAsync(0, new Txid(3), new Txid(3), LtxWithTimestamp(1_700_000_003_000), default);
        LtxFileInfo info = await client.WriteLtxFileAsync(0, new Txid(1), new Txid(2), LtxWithTimestamp(1_700_000_001_000), default);
        Assert.Equal(new LtxFileInfo(0, new Txid(1), new Txid(2), 200, DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_001_000)), info);
        Assert.True(File.Exists(Path.Combine(root, "ltx", "0", "0000000000000001-0000000000000002.ltx")));
        File.WriteAllText(Path.Combine(root, "ltx", "0", "junk.txt"), "not an ltx file");

        var listed = new List<LtxFileInfo>();
        await foreach (LtxFileInfo f in client.ListLtxFilesAsync(0, Txid.Zero, false, default))
        {
            listed.Add(f);
        }
        Assert.Equal([new Txid(1), new Txid(3)], listed.Select(f => f.MinTxid));
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_003_000), listed[1].CreatedAt);

        var seeked = new List<LtxFileInfo>();
        await foreach (LtxFileInfo f in client.ListLtxFilesAsync(0, new Txid(2), false, default))
        {
            seeked.Add(f);
        }
        Assert.Equal([new Txid(3)], seeked.Select(f => f.MinTxid));
        Assert.Empty(Directory.GetFiles(Path.Combine(root, "ltx", "0"), "*.tmp"));
    }

    [Fact]
    public async Task Open_Range_ReturnsExactlyThoseBytes()
    {
        var client = new FileReplicaClient(TestRepo.TempDir());
        await client.WriteLtxFileAsync(1, new Txid(1), new Txid(1), LtxWithTimestamp(1), default);
        await using Stream stream = await client.OpenLtxFileAsync(1, new Txid(1), new Txid(1), 150, 3, default);
        var buffer = new MemoryStream();
        await stream.CopyToAsync(buffer);
        Assert.Equal(new byte[] { 42, 0, 0 }, buffer.ToArray());
    }

    [Fact]
    public async Task Open_Missing_ReplicaFileNotFound()
    {
        var client = new FileReplicaClient(TestRepo.TempDir());
        var error = await Assert.ThrowsAsync<ReplicaFileNotFoundException>(async () => await client.OpenLtxFileAsync(0, new Txid(5), new Txid(5), 0, 0, default));
        Assert.EndsWith("ltx/0/0000000000000005-0000000000000005.ltx", error.Message);
    }

    /// <summary>Opening a FIFO blocks until a writer appears: a replica file that is not a regular file is refused, not read.</summary>
    [Fact]
    public async Task ListAndOpen_FifoNamedLikeAnLtxFile_RefusedWithoutBlocking()
    {
        var client = new FileReplicaClient(TestRepo.TempDir());
        await client.WriteLtxFileAsync(0, new Txid(1), new Txid(1), LtxWithTimestamp(1), default);
        string fifo = client.LtxFilePath(0, new Txid(2), new Txid(2));
        Assert.Equal(0, Processes.Run("mkfifo", [fifo]).ExitCode);
        string message = $"{fifo} is a fifo, not a regular file: refusing to read it";

        var listing = await Assert.ThrowsAsync<IOException>(async () =>
        {
            await foreach (LtxFileInfo _ in client.ListLtxFilesAsync(0, Txid.Zero, false, default))
            {
            }
        });
        Assert.Equal(message, listing.Message);
        Task<Stream> open = Task.Run(async () => await client.OpenLtxFileAsync(0, new Txid(2), new Txid(2), 0, 0, default));
        Assert.True(await Task.WhenAny(open, Task.Delay(TimeSpan.FromSeconds(30))) == open, "opening the fifo blocked");
        Assert.Equal(message, (await Assert.ThrowsAsync<IOException>(() => open)).Message);
    }

    [Fact]
    public async Task List_MissingLevel_Empty()
    {
        var client = new FileReplicaClient(TestRepo.TempDir());
        await foreach (LtxFileInfo _ in client.ListLtxFilesAsync(4, Txid.Zero, false, default))
        {
            Assert.Fail("a missing level lists nothing");
        }
    }

    [Fact]
    public async Task Delete_RemovesOnlyGivenFiles_AndIgnoresMissing()
    {
        var client = new FileReplicaClient(TestRepo.TempDir());
        LtxFileInfo a = await client.WriteLtxFileAsync(0, new Txid(1), new Txid(1), LtxWithTimestamp(1), default);
        LtxFileInfo b = await client.WriteLtxFileAsync(0, new Txid(2), new Txid(2), LtxWithTimestamp(2), default);
        await client.DeleteLtxFilesAsync([a, a with { MinTxid = new Txid(9), MaxTxid = new Txid(9) }], default);
        Assert.False(File.Exists(client.LtxFilePath(0, a.MinTxid, a.MaxTxid)));
        Assert.True(File.Exists(client.LtxFilePath(0, b.MinTxid, b.MaxTxid)));
    }
}
