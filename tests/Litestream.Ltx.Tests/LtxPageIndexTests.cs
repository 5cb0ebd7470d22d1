using System.Buffers;
using Litestream.Ltx.Tests.Fixtures;

namespace Litestream.Ltx.Tests;

public class LtxPageIndexTests
{
    [Fact]
    public void Write_SpecExample_VarintsTerminatorAndSize()
    {
        // LTX.md §11: (1,100,24) (2,124,24) 0, size 7.
        byte[] bytes = new byte[32];
        int n = LtxPageIndex.Write([new LtxPageIndexEntry(1, 100, 24), new LtxPageIndexEntry(2, 124, 24)], bytes);
        Assert.Equal("016418027C1800" + "0000000000000007", Convert.ToHexString(bytes, 0, n));
    }

    [Fact]
    public void Write_LargeValues_GoUvarintEncoding()
    {
        byte[] bytes = new byte[64];
        int n = LtxPageIndex.Write([new LtxPageIndexEntry(300, 1L << 35, 65600)], bytes);
        // 300 = ac 02; 2^35 = 80 80 80 80 80 01; 65600 = c0 80 04.
        Assert.Equal("AC0280808080800" + "1C0800400" + "000000000000000C", Convert.ToHexString(bytes, 0, n));
        Assert.Equal(n - 8, LtxPageIndex.EncodedLength([new LtxPageIndexEntry(300, 1L << 35, 65600)]));
    }

    [Fact]
    public void Validate_WholeSnapshotAndIncremental_Pass()
    {
        new LtxPageIndex([Entry(1), Entry(2), Entry(3)]).Validate(LtxFileBuilder.Header(1, 1, 3));
        new LtxPageIndex([]).Validate(LtxFileBuilder.Header(1, 1, 0));
        new LtxPageIndex([Entry(2), Entry(9)]).Validate(LtxFileBuilder.Header(4, 4, 12));
        // 64 KiB pages: the lock page is 16385; a snapshot of exactly that many pages ends before it.
        new LtxPageIndex([.. Enumerable.Range(1, 16384).Select(p => Entry((uint)p))]).Validate(LtxFileBuilder.Header(1, 1, 16385, 65536));
    }

    /// <summary>The checks a reader mapping pages through the index (the VFS) relies on, with the messages a decode of the file gives.</summary>
    [Theory]
    [InlineData(1ul, 29u, new uint[] { 1, 2, 3 }, "snapshot transaction file is missing pages: last page 3, commit 29")]
    [InlineData(1ul, 4294967295u, new uint[] { 1, 2, 3 }, "snapshot transaction file is missing pages: last page 3, commit 4294967295")]
    [InlineData(1ul, 3u, new uint[] { 1, 3 }, "nonsequential page numbers in snapshot transaction: 1,3")]
    [InlineData(1ul, 3u, new uint[] { 2, 3 }, "snapshot transaction file must start with page number 1")]
    [InlineData(5ul, 3u, new uint[] { 2, 4 }, "page number 4 out-of-bounds for commit size 3")]
    [InlineData(5ul, 3000000u, new uint[] { 2097153 }, "cannot decode lock page: pgno=2097153")]
    public void Validate_IndexBreakingTheFormatRules_Refused(ulong minTxid, uint commit, uint[] pgnos, string message)
    {
        var index = new LtxPageIndex([.. pgnos.Select(Entry)]);
        Assert.Equal(message, Assert.Throws<LtxFormatException>(() => index.Validate(LtxFileBuilder.Header(minTxid, minTxid, commit, 512))).Message);
    }

    private static LtxPageIndexEntry Entry(uint pgno) => new(pgno, LtxConstants.HeaderSize + (pgno - 1) * 20L, 20);

    [Fact]
    public void TryGet_BinarySearch()
    {
        var index = new LtxPageIndex([new(2, 100, 10), new(5, 110, 10), new(9, 120, 10)]);
        Assert.True(index.TryGet(5, out LtxPageIndexEntry e));
        Assert.Equal(110L, e.Offset);
        Assert.False(index.TryGet(1, out _));
        Assert.False(index.TryGet(6, out _));
        Assert.False(index.TryGet(10, out _));
        Assert.False(new LtxPageIndex([]).TryGet(1, out _));
    }

    [RequiresFact(Need.Spec)]
    public void TryReadFromTail_ShortTail_AsksForExactlyTheIndexBytes()
    {
        byte[] file = File.ReadAllBytes(TestRepo.SpecFile("synthetic/replica-file/ltx/0/0000000000000002-0000000000000002.ltx"));
        Assert.Equal(OperationStatus.NeedMoreData, LtxPageIndex.TryReadFromTail(file.AsSpan(file.Length - 10), file.Length, out _, out int needed));
        Assert.Equal(24, needed);
        Assert.Equal(OperationStatus.NeedMoreData, LtxPageIndex.TryReadFromTail(file.AsSpan(file.Length - 24), file.Length, out _, out needed));
        // Index at 17382, file 17527: varints 17527 - 17382 - 24 bytes, plus the 24 fixed tail bytes.
        Assert.Equal(17527 - 17382, needed);
        Assert.Equal(OperationStatus.Done, LtxPageIndex.TryReadFromTail(file.AsSpan(file.Length - needed), file.Length, out LtxPageIndex? index, out _));
        Assert.Equal(24, index!.Entries.Count);
        Assert.Equal(OperationStatus.Done, LtxPageIndex.TryReadFromTail(file, file.Length, out LtxPageIndex? whole, out _));
        Assert.Equal(index.Entries, whole!.Entries);
    }

    [RequiresFact(Need.Spec)]
    public void TryReadFromTail_EveryCorruptTail_NeverThrows()
    {
        byte[] original = File.ReadAllBytes(TestRepo.SpecFile("synthetic/ltx/decoder-spec-block.ltx"));
        var random = new Random(3);
        for (int i = 0; i < 5000; i++)
        {
            byte[] file = (byte[])original.Clone();
            int region = 154 + random.Next(0, file.Length - 154);
            file[region] ^= (byte)(1 << random.Next(0, 8));
            int tailLength = random.Next(0, file.Length + 1);
            OperationStatus status = LtxPageIndex.TryReadFromTail(file.AsSpan(file.Length - tailLength), file.Length, out LtxPageIndex? index, out int needed);
            if (status == OperationStatus.Done)
            {
                Assert.All(index!.Entries, e => Assert.InRange(e.Offset + e.Size, 0, file.Length));
            }
            else if (status == OperationStatus.NeedMoreData)
            {
                Assert.InRange(needed, tailLength + 1, file.Length);
            }
        }
    }

    [Fact]
    public void TryReadFromTail_IndexSizeBeyondFile_InvalidData()
    {
        byte[] file = LtxFileBuilder.Build(LtxFileBuilder.Header(1, 1, 1, 512), [(1, new byte[512])]);
        file[^24] = 0x7f;
        Assert.Equal(OperationStatus.InvalidData, LtxPageIndex.TryReadFromTail(file, file.Length, out _, out _));
        Assert.Equal(OperationStatus.InvalidData, LtxPageIndex.TryReadFromTail(file, 20, out _, out _));
    }
}

public class LtxRandomAccessTests
{
    public static TheoryData<string> Fixtures() =>
    [
        "synthetic/ltx/decoder-spec-block.ltx",
        "synthetic/ltx/decoder-spec-frame.ltx",
        "synthetic/ltx/incremental-checksummed.ltx",
        "synthetic/replica-file/ltx/0/0000000000000002-0000000000000002.ltx",
        "synthetic/replica-file/ltx/9/0000000000000001-0000000000000002.ltx",
    ];

    private static Dictionary<uint, byte[]> Stream(byte[] file)
    {
        using var decoder = new LtxDecoder(new MemoryStream(file));
        LtxHeader header = decoder.DecodeHeader();
        var pages = new Dictionary<uint, byte[]>();
        var page = new byte[header.PageSize];
        while (decoder.TryDecodePage(page, out LtxPageHeader ph))
        {
            pages[ph.Pgno] = page.ToArray();
        }
        decoder.Close();
        return pages;
    }

    [RequiresTheory(Need.Spec)]
    [MemberData(nameof(Fixtures))]
    public async Task ReadPageAsync_EveryPageOneRangedRead_EqualsStreamingDecode(string fixture)
    {
        byte[] file = File.ReadAllBytes(TestRepo.SpecFile(fixture));
        var reads = new List<(long Offset, int Length)>();
        LtxRangeReader read = (offset, destination, _) =>
        {
            reads.Add((offset, destination.Length));
            int n = (int)Math.Clamp(file.Length - offset, 0, destination.Length);
            file.AsSpan((int)offset, n).CopyTo(destination.Span);
            return ValueTask.FromResult(n);
        };
        LtxPageIndex index = await LtxRandomAccess.ReadPageIndexAsync(read, file.Length);
        Assert.Equal([(0L, file.Length)], reads); // files under 32 KiB: the whole file is the tail
        Dictionary<uint, byte[]> expected = Stream(file);
        Assert.Equal(expected.Keys.Order(), index.Entries.Select(e => e.Pgno));
        uint pageSize = LtxHeader.Read(file).PageSize;
        var page = new byte[pageSize];
        foreach (LtxPageIndexEntry entry in index.Entries)
        {
            reads.Clear();
            LtxPageHeader header = await LtxRandomAccess.ReadPageAsync(read, entry, page);
            Assert.Equal(entry.Pgno, header.Pgno);
            Assert.Equal([(entry.Offset, (int)entry.Size)], reads);
            Assert.Equal(expected[entry.Pgno], page);
        }
    }

    [Fact]
    public async Task ReadPageIndexAsync_LargeIndex_SecondReadOfExactSize()
    {
        // 6000 pages of zeros: frames are tiny, the index (~6 bytes per entry) exceeds 32 KiB.
        var pages = Enumerable.Range(1, 6000).Select(i => ((uint)i, new byte[512]));
        byte[] file = LtxFileBuilder.Build(LtxFileBuilder.Header(1, 1, 6000, 512), pages);
        var reads = new List<(long Offset, int Length)>();
        LtxRangeReader read = (offset, destination, _) =>
        {
            reads.Add((offset, destination.Length));
            file.AsSpan((int)offset, destination.Length).CopyTo(destination.Span);
            return ValueTask.FromResult(destination.Length);
        };
        LtxPageIndex index = await LtxRandomAccess.ReadPageIndexAsync(read, file.Length);
        Assert.Equal(6000, index.Entries.Count);
        Assert.Equal(2, reads.Count);
        Assert.Equal(LtxRandomAccess.EstimatedIndexTailSize, reads[0].Length);
        Assert.InRange(reads[1].Length, LtxRandomAccess.EstimatedIndexTailSize + 1, file.Length);
        Assert.Equal(file.Length, reads[1].Offset + reads[1].Length);
    }

    [Fact]
    public void ReadPage_LocalFile_PositionalRead()
    {
        var random = new Random(9);
        byte[] p3 = LtxFileBuilder.RandomPage(random, 4096, textLike: true);
        byte[] file = LtxFileBuilder.Build(LtxFileBuilder.Header(4, 4, 9), [(3, p3), (8, LtxFileBuilder.RandomPage(random, 4096, false))]);
        using var temp = new TempFile(file);
        LtxPageIndex index = LtxRandomAccess.ReadPageIndex(temp.Handle);
        Assert.True(index.TryGet(3, out LtxPageIndexEntry entry));
        var page = new byte[4096];
        Assert.Equal(new LtxPageHeader(3, LtxConstants.PageHeaderFlagSize), LtxRandomAccess.ReadPage(temp.Handle, entry, page));
        Assert.Equal(p3, page);
    }

    [Fact]
    public void ReadPage_HostileEntries_FormatErrorsBeforeAllocating()
    {
        byte[] file = LtxFileBuilder.Build(LtxFileBuilder.Header(4, 4, 9), [(3, new byte[4096]), (8, new byte[4096])]);
        using var temp = new TempFile(file);
        LtxPageIndex index = LtxRandomAccess.ReadPageIndex(temp.Handle);
        LtxPageIndexEntry e3 = index.Entries[0], e8 = index.Entries[1];
        var page = new byte[4096];
        Assert.Equal("invalid page index entry for page 3: offset 100, size 1099511627776",
            Assert.Throws<LtxFormatException>(() => LtxRandomAccess.ReadPage(temp.Handle, e3 with { Size = 1L << 40 }, page)).Message);
        Assert.Equal($"page index entry for page 3 points at page 8 (offset {e8.Offset})",
            Assert.Throws<LtxFormatException>(() => LtxRandomAccess.ReadPage(temp.Handle, e8 with { Pgno = 3 }, page)).Message);
        Assert.StartsWith("page frame for page 3 has 1 bytes past its payload",
            Assert.Throws<LtxFormatException>(() => LtxRandomAccess.ReadPage(temp.Handle, e3 with { Size = e3.Size + 1 }, page)).Message);
        Assert.StartsWith("short read of page 8: ",
            Assert.Throws<LtxFormatException>(() => LtxRandomAccess.ReadPage(temp.Handle, e8 with { Offset = file.Length - 5 }, page)).Message);
    }
}
