using System.Buffers.Binary;
using Litestream.Ltx;
using Litestream.Ltx.Tests.Fixtures;
using Litestream.Restore;
using Litestream.Storage.File;
using Litestream.Tests.Fixtures;

namespace Litestream.Tests.Restore;

/// <summary>
/// The default check rejects a database whose LTX files are intact (every checksum right) but whose b-trees or page
/// accounting are not: SQLite's <c>quick_check</c>, run on the temp file through its memory map, must still see a
/// damaged page, a page nothing uses and a page used twice. The snapshot is over 2 MiB, so it is applied by segments
/// read from the local replica file. Nothing is left behind.
/// </summary>
[Requires(Need.Python)]
public sealed class RestoreQuickCheckTests
{
    [RequiresTheory]
    [InlineData("damaged page")]
    [InlineData("never used")]
    [InlineData("used twice")]
    public async Task Restore_SnapshotOfACorruptDatabase_FailsQuickCheck_NoOutput(string corruption)
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        RandomBlobDatabase.Create(db, rows: 1000, seed: 5);
        string replica = Path.Combine(dir, "replica");
        var client = new FileReplicaClient(replica);
        LtxFileInfo snapshot = await RandomBlobDatabase.ReplicateOnceAsync(db, client);
        string path = client.LtxFilePath(0, snapshot.MinTxid, snapshot.MaxTxid);
        (LtxHeader header, List<(uint Pgno, byte[] Page)> pages) = LtxFileBuilder.Decode(File.ReadAllBytes(path));
        Assert.True(snapshot.Size > StreamedFileApplier.InMemoryFetchLimit);

        uint middle = (uint)pages.Count / 2;
        byte[] page1 = pages[0].Page;
        string expected;
        switch (corruption)
        {
            case "damaged page":
                // Not a b-tree page type any more.
                pages[(int)middle - 1].Page[0] = 0xFF;
                expected = $"page {middle}";
                break;
            case "never used":
                // One more page, counted in the header, that no b-tree or freelist holds.
                pages.Add(((uint)pages.Count + 1, new byte[header.PageSize]));
                BinaryPrimitives.WriteUInt32BigEndian(page1.AsSpan(28), (uint)pages.Count);
                expected = $"Page {pages.Count}: never used";
                break;
            default:
                // A well-formed freelist (one new trunk page) that lists a table leaf as free: the leaf is referenced twice.
                byte[] trunk = new byte[header.PageSize];
                BinaryPrimitives.WriteUInt32BigEndian(trunk.AsSpan(4), 1);
                BinaryPrimitives.WriteUInt32BigEndian(trunk.AsSpan(8), middle);
                pages.Add(((uint)pages.Count + 1, trunk));
                BinaryPrimitives.WriteUInt32BigEndian(page1.AsSpan(28), (uint)pages.Count);
                BinaryPrimitives.WriteUInt32BigEndian(page1.AsSpan(32), (uint)pages.Count);
                BinaryPrimitives.WriteUInt32BigEndian(page1.AsSpan(36), 2);
                expected = $"2nd reference to page {middle}";
                break;
        }
        File.WriteAllBytes(path, LtxFileBuilder.Build(header with { Commit = (uint)pages.Count }, pages));

        string output = Path.Combine(TestRepo.TempDir(), "out.db");
        InvalidDataException error = await Assert.ThrowsAsync<InvalidDataException>(async () =>
            await Restorer.RestoreAsync(client, new RestoreOptions { OutputPath = output }, default));
        Assert.StartsWith("restored database fails quick_check: ", error.Message, StringComparison.Ordinal);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(output)!));
    }
}
