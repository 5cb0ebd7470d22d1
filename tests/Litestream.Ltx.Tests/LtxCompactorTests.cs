using Litestream.Ltx.Tests.Fixtures;

namespace Litestream.Ltx.Tests;

public class LtxCompactorTests
{
    private static byte[] Page(byte fill) => LtxFileBuilder.Page(512, fill);

    private static (LtxHeader Header, Dictionary<uint, byte> Pages) Decode(byte[] file)
    {
        using var decoder = new LtxDecoder(new MemoryStream(file));
        LtxHeader header = decoder.DecodeHeader();
        var pages = new Dictionary<uint, byte>();
        var buffer = new byte[header.PageSize];
        while (decoder.TryDecodePage(buffer, out LtxPageHeader ph))
        {
            pages[ph.Pgno] = buffer[0];
        }
        decoder.Close();
        return (header, pages);
    }

    [Fact]
    public void Compact_SnapshotThenIncrementsThatShrink_NewestPageWinsAndTailDropped()
    {
        byte[] a = LtxFileBuilder.Build(LtxFileBuilder.Header(1, 1, 3, 512, 10), [(1, Page(1)), (2, Page(2)), (3, Page(3))]);
        byte[] b = LtxFileBuilder.Build(LtxFileBuilder.Header(2, 2, 4, 512, 20), [(2, Page(22)), (4, Page(44))]);
        byte[] c = LtxFileBuilder.Build(LtxFileBuilder.Header(3, 4, 2, 512, 30), [(1, Page(11))]);
        var output = new MemoryStream();
        LtxCompactor.Compact(output, [new MemoryStream(a), new MemoryStream(b), new MemoryStream(c)]);
        var (header, pages) = Decode(output.ToArray());
        Assert.Equal((new Txid(1), new Txid(4), 2u, 30L), (header.MinTxid, header.MaxTxid, header.Commit, header.Timestamp));
        Assert.Equal(new Dictionary<uint, byte> { [1] = 11, [2] = 22 }, pages);
        Assert.Equal(LtxConstants.HeaderFlagNoChecksum, header.Flags);
        Assert.Equal(0L, header.WalOffset);
    }

    [Fact]
    public void Compact_Gap_ErrorNamesBothRanges()
    {
        byte[] a = LtxFileBuilder.Build(LtxFileBuilder.Header(1, 1, 1, 512), [(1, Page(1))]);
        byte[] b = LtxFileBuilder.Build(LtxFileBuilder.Header(3, 3, 1, 512), [(1, Page(2))]);
        var error = Assert.Throws<LtxFormatException>(() => LtxCompactor.Compact(new MemoryStream(), [new MemoryStream(a), new MemoryStream(b)]));
        Assert.Equal("transaction id gap between files: 0000000000000001-0000000000000001 then 0000000000000003-0000000000000003", error.Message);
    }

    [Fact]
    public void Compact_Overlap_RejectedUnlessAllowed()
    {
        byte[] a = LtxFileBuilder.Build(LtxFileBuilder.Header(1, 5, 1, 512), [(1, Page(1))]);
        byte[] b = LtxFileBuilder.Build(LtxFileBuilder.Header(3, 6, 1, 512), [(1, Page(2))]);
        var error = Assert.Throws<LtxFormatException>(() => LtxCompactor.Compact(new MemoryStream(), [new MemoryStream(a), new MemoryStream(b)]));
        Assert.Equal("overlapping transaction files: 0000000000000001-0000000000000005 then 0000000000000003-0000000000000006", error.Message);
        var output = new MemoryStream();
        LtxCompactor.Compact(output, [new MemoryStream(a), new MemoryStream(b)], new LtxCompactionOptions { AllowOverlap = true });
        Assert.Equal(new Dictionary<uint, byte> { [1] = 2 }, Decode(output.ToArray()).Pages);
    }

    [RequiresFact(Need.Spec)]
    public void Compact_ReplicaFixtureL0Files_DecodesToExpectedTxid2Database()
    {
        string dir = TestRepo.SpecFile("synthetic/replica-file/ltx/0");
        var output = new MemoryStream();
        using (FileStream f1 = File.OpenRead(Path.Combine(dir, "0000000000000001-0000000000000001.ltx")))
        using (FileStream f2 = File.OpenRead(Path.Combine(dir, "0000000000000002-0000000000000002.ltx")))
        {
            LtxCompactor.Compact(output, [f1, f2]);
        }
        output.Position = 0;
        var db = new MemoryStream();
        using var decoder = new LtxDecoder(output);
        decoder.DecodeDatabaseTo(db);
        Assert.Equal(File.ReadAllBytes(TestRepo.SpecFile("synthetic/replica-file/expected-txid2.db")), db.ToArray());
    }
}
