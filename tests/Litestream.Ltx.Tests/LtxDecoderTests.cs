using Litestream.Ltx.Checksums;
using Litestream.Ltx.Tests.Fixtures;

namespace Litestream.Ltx.Tests;

public class LtxDecoderTests
{
    private static (LtxHeader Header, List<(uint Pgno, byte[] Page)> Pages, LtxTrailer Trailer, LtxPageIndex Index) DecodeAll(string path)
    {
        using var decoder = new LtxDecoder(File.OpenRead(path));
        LtxHeader header = decoder.DecodeHeader();
        var pages = new List<(uint, byte[])>();
        var buffer = new byte[header.PageSize];
        while (decoder.TryDecodePage(buffer, out LtxPageHeader ph))
        {
            pages.Add((ph.Pgno, buffer.ToArray()));
        }
        LtxTrailer trailer = decoder.Close();
        return (header, pages, trailer, decoder.PageIndex);
    }

    [SpecTheory]
    [InlineData("synthetic/ltx/decoder-spec-block.ltx", 0xf2f5bf19c408f15aUL, 100L, 24L, 124L, 24L)]
    [InlineData("synthetic/ltx/decoder-spec-frame.ltx", 0xa552da3e304d0facUL, 100L, 39L, 139L, 39L)]
    public void Decode_DecoderSpecFixtures_MatchReadme(string file, ulong fileChecksum, long off1, long size1, long off2, long size2)
    {
        var (header, pages, trailer, index) = DecodeAll(SharedSpec.File(file));
        Assert.Equal(0u, header.Flags);
        Assert.Equal(1024u, header.PageSize);
        Assert.Equal(2u, header.Commit);
        Assert.Equal(new Txid(1), header.MinTxid);
        Assert.Equal(new Txid(1), header.MaxTxid);
        Assert.Equal(1000L, header.Timestamp);
        Assert.Equal([1u, 2u], pages.Select(p => p.Pgno));
        Assert.All(pages[0].Page, b => Assert.Equal((byte)'2', b));
        Assert.All(pages[1].Page, b => Assert.Equal((byte)'3', b));
        Assert.Equal(0xe1899b6d587aaaaaUL, trailer.PostApplyChecksum);
        Assert.Equal(fileChecksum, trailer.FileChecksum);
        Assert.Equal([new LtxPageIndexEntry(1, off1, size1), new LtxPageIndexEntry(2, off2, size2)], index.Entries);
    }

    [SpecFact]
    public void Decode_IncrementalChecksummed_MatchesReadme()
    {
        var (header, pages, trailer, _) = DecodeAll(SharedSpec.File("synthetic/ltx/incremental-checksummed.ltx"));
        Assert.Equal(new Txid(2), header.MinTxid);
        Assert.Equal(2000L, header.Timestamp);
        Assert.Equal(0xe1899b6d587aaaaaUL, header.PreApplyChecksum);
        Assert.Equal(2u, Assert.Single(pages).Pgno);
        Assert.Equal(0x95c99b6c1d2fffffUL, trailer.PostApplyChecksum);
        Assert.Equal(0xefc2305d8f816749UL, trailer.FileChecksum);
    }

    [SpecTheory]
    [InlineData("synthetic/replica-file/ltx/0/0000000000000001-0000000000000001.ltx", 1UL, 1UL, 2u, 1700000000000L, 32L, 12360L, 0xc76698f35fef4208UL)]
    [InlineData("synthetic/replica-file/ltx/0/0000000000000002-0000000000000002.ltx", 2UL, 2UL, 24u, 1700000001000L, 12392L, 98880L, 0xb5082cc6551f57e4UL)]
    [InlineData("synthetic/replica-file/ltx/1/0000000000000001-0000000000000002.ltx", 1UL, 2UL, 24u, 1700000001000L, 0L, 0L, 0xf525a5b87bdc6876UL)]
    [InlineData("synthetic/replica-file/ltx/9/0000000000000001-0000000000000002.ltx", 1UL, 2UL, 24u, 1700000001500L, 107152L, 4120L, 0xdee74e2ba5885caeUL)]
    public void Decode_ReplicaFixtures_MatchReadme(string file, ulong min, ulong max, uint commit, long timestamp, long walOffset, long walSize, ulong fileChecksum)
    {
        var (header, pages, trailer, _) = DecodeAll(SharedSpec.File(file));
        Assert.Equal(LtxConstants.HeaderFlagNoChecksum, header.Flags);
        Assert.Equal(4096u, header.PageSize);
        Assert.Equal(new Txid(min), header.MinTxid);
        Assert.Equal(new Txid(max), header.MaxTxid);
        Assert.Equal(commit, header.Commit);
        Assert.Equal(timestamp, header.Timestamp);
        Assert.Equal(walOffset, header.WalOffset);
        Assert.Equal(walSize, header.WalSize);
        Assert.Equal(0UL, trailer.PostApplyChecksum);
        Assert.Equal(fileChecksum, trailer.FileChecksum);
        Assert.Equal(min == 1 ? (int)commit : pages.Count, pages.Count);
    }

    [SpecFact]
    public void DecodeDatabaseTo_L9Snapshot_EqualsExpectedDatabase()
    {
        using var decoder = new LtxDecoder(File.OpenRead(SharedSpec.File("synthetic/replica-file/ltx/9/0000000000000001-0000000000000002.ltx")));
        var output = new MemoryStream();
        decoder.DecodeDatabaseTo(output);
        byte[] expected = File.ReadAllBytes(SharedSpec.File("synthetic/replica-file/expected-txid2.db"));
        Assert.Equal(expected, output.ToArray());
        Assert.Equal(0xe440d6be942c0a9eUL, DatabaseChecksum.Compute(expected, 4096));
    }

    [SpecFact]
    public void DecodeHeader_LtxVersion1Fixture_RejectedWithVersionMessage()
    {
        string path = SharedSpec.File("litestream-63225f1/testdata/store/open-and-write-snapshot/dbs/sqlite.db/ltx/000000000000000d-000000000000000d.ltx");
        using var decoder = new LtxDecoder(File.OpenRead(path));
        LtxHeader header = decoder.DecodeHeader();
        Assert.Equal(new Txid(13), header.MinTxid);
        Assert.Equal(0x9c74a15b4e4f246cUL, header.PreApplyChecksum);
        var error = Assert.Throws<LtxFormatException>(() => decoder.TryDecodePage(new byte[4096], out _));
        Assert.Contains("ltx v1/v2 files are not supported", error.Message);
    }
}
