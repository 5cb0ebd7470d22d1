using Litestream.Ltx.Tests.Fixtures;

namespace Litestream.Ltx.Tests;

/// <summary>The lease generation in NodeID: its tag, the order check between files, compaction and restamping.</summary>
public class LtxNodeIdTests
{
    private static readonly ulong s_gen1 = LtxNodeId.FromLeaseGeneration(1), s_gen2 = LtxNodeId.FromLeaseGeneration(2);

    private static LtxHeader Header(ulong min, ulong max, ulong nodeId) => LtxFileBuilder.Header(min, max, 1, 512) with { NodeId = nodeId };

    [Fact]
    public void LeaseGeneration_OnlyTaggedNodeIdsCarryOne()
    {
        Assert.Equal(0x4C47_0000_0000_0007UL, LtxNodeId.FromLeaseGeneration(7));
        Assert.Equal(7, LtxNodeId.LeaseGeneration(0x4C47_0000_0000_0007UL));
        Assert.Equal(0, LtxNodeId.LeaseGeneration(0));
        Assert.Equal(0, LtxNodeId.LeaseGeneration(0x9E37_79B9_7F4A_7C15UL)); // a LiteFS-style random node id
        Assert.Throws<ArgumentOutOfRangeException>(() => LtxNodeId.FromLeaseGeneration(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => LtxNodeId.FromLeaseGeneration(LtxNodeId.MaxGeneration + 1));
    }

    [Fact]
    public void CheckSequence_OlderGenerationAfterNewer_Refused()
    {
        var error = Assert.Throws<LtxFormatException>(() => LtxTxidChain.Check(Header(1, 4, s_gen2), Header(5, 5, s_gen1), allowOverlap: false));
        Assert.Equal("0000000000000005-0000000000000005 was written under lease generation 1 after 0000000000000001-0000000000000004 under generation 2: a replicator that had lost the lease uploaded it", error.Message);
    }

    [Theory]
    [InlineData(1UL, 2UL)]
    [InlineData(2UL, 2UL)]
    [InlineData(0UL, 1UL)]
    [InlineData(2UL, 0UL)]
    [InlineData(2UL, 0x9E37_79B9_7F4A_7C15UL)]
    public void CheckSequence_SameOrNewerGeneration_OrNoneOnEitherSide_Accepted(ulong before, ulong after)
    {
        ulong Stamp(ulong value) => value is 1 or 2 ? LtxNodeId.FromLeaseGeneration((long)value) : value;
        LtxTxidChain.Check(Header(1, 4, Stamp(before)), Header(5, 5, Stamp(after)), allowOverlap: false);
    }

    [Fact]
    public void Compact_OutputCarriesTheNewestGenerationOfItsInputs()
    {
        byte[] a = LtxFileBuilder.Build(Header(1, 1, s_gen1), [(1, LtxFileBuilder.Page(512, 1))]);
        byte[] b = LtxFileBuilder.Build(Header(2, 2, s_gen2), [(1, LtxFileBuilder.Page(512, 2))]);
        byte[] c = LtxFileBuilder.Build(Header(3, 3, 0), [(1, LtxFileBuilder.Page(512, 3))]);
        var output = new MemoryStream();
        LtxCompactor.Compact(output, [new MemoryStream(a), new MemoryStream(b), new MemoryStream(c)]);
        output.Position = 0;
        using var decoder = new LtxDecoder(output);
        Assert.Equal(s_gen2, decoder.DecodeHeader().NodeId);
    }

    [Fact]
    public void Restamp_ChangesOnlyNodeIdAndTheFileChecksum()
    {
        LtxHeader header = LtxFileBuilder.Header(2, 2, 3, 512) with { WalOffset = 32, WalSize = 4128, WalSalt1 = 11, WalSalt2 = 12 };
        byte[] original = LtxFileBuilder.Build(header, [(1, LtxFileBuilder.Page(512, 1)), (3, LtxFileBuilder.Page(512, 3))]);
        var output = new MemoryStream();
        LtxHeader stamped = LtxRewrite.Copy(new MemoryStream(original), output, s_gen2);
        byte[] copy = output.ToArray();

        Assert.Equal(header with { NodeId = s_gen2 }, stamped);
        Assert.Equal(original.Length, copy.Length);
        for (int i = 0; i < copy.Length - 8; i++)
        {
            bool nodeIdByte = i >= LtxLayout.NodeId && i < LtxLayout.NodeId + 8;
            Assert.True(nodeIdByte || copy[i] == original[i], $"byte {i} changed");
        }
        using var decoder = new LtxDecoder(new MemoryStream(copy));
        Assert.Equal(stamped, decoder.DecodeHeader());
        var page = new byte[512];
        Assert.True(decoder.TryDecodePage(page, out LtxPageHeader first));
        Assert.Equal((1u, (byte)1), (first.Pgno, page[0]));
        Assert.True(decoder.TryDecodePage(page, out LtxPageHeader second));
        Assert.Equal((3u, (byte)3), (second.Pgno, page[0]));
        Assert.False(decoder.TryDecodePage(page, out _));
        decoder.Close(); // the recomputed file checksum holds
    }

    [Fact]
    public void Restamp_DamagedInput_Refused()
    {
        byte[] original = LtxFileBuilder.Build(Header(1, 1, 0), [(1, LtxFileBuilder.Page(512, 1))]);
        original[^1] ^= 0xFF; // the file checksum
        Assert.Throws<LtxChecksumMismatchException>(() => LtxRewrite.Copy(new MemoryStream(original), new MemoryStream(), s_gen1));
    }
}
