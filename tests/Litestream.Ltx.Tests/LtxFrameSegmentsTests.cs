using Litestream.Ltx.Tests.Fixtures;

namespace Litestream.Ltx.Tests;

public class LtxFrameSegmentsTests
{
    private sealed record Decoded(LtxFrameSegments Plan, List<(uint Pgno, byte[] Page)> Pages, LtxTrailer Trailer);

    /// <summary>Plans the segments from header and tail, decodes each from its own byte range (last first, to prove independence), verifies.</summary>
    private static Decoded DecodeBySegments(byte[] file, long segmentBytes)
    {
        long indexOffset = LtxPageIndexReader.IndexOffset(file.AsSpan(file.Length - LtxPageIndexReader.FixedTailSize), file.Length);
        LtxFrameSegments plan = LtxFrameSegments.Read(file.AsSpan(0, LtxConstants.HeaderSize), new MemoryStream(file[(int)indexOffset..]), file.Length, segmentBytes);
        var parts = new LtxSegmentChecksum[plan.Segments.Count];
        var pagesBySegment = new List<(uint, byte[])>[parts.Length];
        for (int i = parts.Length - 1; i >= 0; i--)
        {
            LtxFrameSegment segment = plan.Segments[i];
            using var decoder = new LtxSegmentDecoder(new MemoryStream(file[(int)segment.Offset..(int)segment.End]), plan.Header, segment);
            var buffer = new byte[plan.Header.PageSize];
            pagesBySegment[i] = [];
            while (decoder.TryDecodePage(buffer, out LtxPageHeader ph))
            {
                pagesBySegment[i].Add((ph.Pgno, buffer.ToArray()));
            }
            parts[i] = decoder.Finish();
        }
        LtxTrailer trailer = plan.Verify(parts);
        return new Decoded(plan, pagesBySegment.SelectMany(p => p).ToList(), trailer);
    }

    private static (List<(uint Pgno, byte[] Page)> Pages, LtxTrailer Trailer) DecodeWhole(byte[] file)
    {
        using var decoder = new LtxDecoder(new MemoryStream(file));
        LtxHeader header = decoder.DecodeHeader();
        var pages = new List<(uint, byte[])>();
        var buffer = new byte[header.PageSize];
        while (decoder.TryDecodePage(buffer, out LtxPageHeader ph))
        {
            pages.Add((ph.Pgno, buffer.ToArray()));
        }
        return (pages, decoder.Close());
    }

    private static byte[] Snapshot(int pages, uint pageSize = 4096, int seed = 1)
    {
        var random = new Random(seed);
        return LtxFileBuilder.Build(LtxFileBuilder.Header(1, 7, (uint)pages, pageSize),
            Enumerable.Range(1, pages).Select(p => ((uint)p, LtxFileBuilder.RandomPage(random, pageSize, textLike: p % 3 == 0))));
    }

    [Theory]
    [InlineData(1L, 300)]          // a segment per page
    [InlineData(40_000L, 0)]       // several pages each (count depends on compression: checked below)
    [InlineData(1L << 40, 1)]      // one segment
    public void Snapshot_DecodedBySegments_EqualsWholeFileDecode(long segmentBytes, int expectedSegments)
    {
        byte[] file = Snapshot(300);
        Decoded bySegments = DecodeBySegments(file, segmentBytes);
        (List<(uint Pgno, byte[] Page)> pages, LtxTrailer trailer) = DecodeWhole(file);

        if (expectedSegments > 0)
        {
            Assert.Equal(expectedSegments, bySegments.Plan.Segments.Count);
        }
        else
        {
            Assert.InRange(bySegments.Plan.Segments.Count, 2, 299);
        }
        Assert.Equal(trailer, bySegments.Trailer);
        Assert.Equal(pages.Select(p => p.Pgno), bySegments.Pages.Select(p => p.Pgno));
        Assert.True(pages.Zip(bySegments.Pages).All(z => z.First.Page.AsSpan().SequenceEqual(z.Second.Page)));
        Assert.Equal(300, bySegments.Plan.Segments.Sum(s => s.PageCount));
        Assert.Equal(LtxConstants.HeaderSize, bySegments.Plan.Segments[0].Offset);
        Assert.True(bySegments.Plan.Segments[^1].IsLast);
        Assert.All(bySegments.Plan.Segments.Zip(bySegments.Plan.Segments.Skip(1)), pair => Assert.Equal(pair.First.End, pair.Second.Offset));
    }

    [Fact]
    public void Incremental_WithGaps_DecodedBySegments()
    {
        var random = new Random(5);
        uint[] pgnos = [2, 3, 9, 40, 41, 77, 100];
        byte[] file = LtxFileBuilder.Build(LtxFileBuilder.Header(8, 9, 120, 1024),
            pgnos.Select(p => (p, LtxFileBuilder.RandomPage(random, 1024, textLike: false))));

        Decoded bySegments = DecodeBySegments(file, 2500);

        Assert.Equal(pgnos, bySegments.Pages.Select(p => p.Pgno));
        Assert.Equal(100u, bySegments.Plan.LastPgno);
        Assert.Equal(DecodeWhole(file).Trailer, bySegments.Trailer);
        // 1 KiB random pages take 1 039 bytes a frame: every third frame starts a new segment of 2 500+ bytes.
        Assert.Equal([0u, 9u, 77u], bySegments.Plan.Segments.Select(s => s.PreviousPgno));
    }

    [Fact]
    public void SnapshotWhoseCommitPassesItsLastPage_RefusedWhenPlanned()
    {
        var random = new Random(3);
        byte[] file = LtxFileBuilder.BuildUnchecked(LtxFileBuilder.Header(1, 1, uint.MaxValue, 1024),
            Enumerable.Range(1, 29).Select(p => ((uint)p, LtxFileBuilder.RandomPage(random, 1024, textLike: false))));
        Assert.Equal("snapshot transaction file is missing pages: last page 29, commit 4294967295",
            Assert.Throws<LtxFormatException>(() => DecodeBySegments(file, 4096)).Message);
    }

    [Fact]
    public void EmptyDatabase_OneSegmentHoldingTheEndMarker()
    {
        byte[] file = LtxFileBuilder.Build(LtxFileBuilder.Header(1, 1, 0), []);
        Decoded bySegments = DecodeBySegments(file, 1 << 20);
        LtxFrameSegment only = Assert.Single(bySegments.Plan.Segments);
        Assert.Equal(new LtxFrameSegment(100, 106, 0, 0, 0, IsLast: true), only);
        Assert.Empty(bySegments.Pages);
    }

    [RequiresFact(Need.Spec)]
    public void UpstreamAndSyntheticFixtures_VerifyBySegments_BothPageEncodingsAndChecksummedSnapshots()
    {
        // Every v3 fixture (the one in store/open-and-write-snapshot is an ltx v1 file no v3 reader takes).
        string[] files = Directory.GetFiles(TestRepo.SpecFile(""), "*.ltx", SearchOption.AllDirectories)
            .Where(f => !f.Contains("open-and-write-snapshot", StringComparison.Ordinal)).ToArray();
        Assert.Equal(7, files.Length);
        foreach (string path in files)
        {
            byte[] file = File.ReadAllBytes(path);
            (List<(uint Pgno, byte[] Page)> pages, LtxTrailer trailer) = DecodeWhole(file);
            Decoded bySegments = DecodeBySegments(file, 1);
            Assert.Equal(trailer, bySegments.Trailer);
            Assert.Equal(pages.Select(p => p.Pgno), bySegments.Pages.Select(p => p.Pgno));
            Assert.Equal(Math.Max(1, pages.Count), bySegments.Plan.Segments.Count);
        }
    }

    [RequiresFact(Need.Spec)]
    public void ChecksummedSnapshot_PostApplyChecksumSummedAcrossSegments()
    {
        // A snapshot's post-apply checksum is the XOR of its pages' checksums: each segment sums its own share.
        byte[] file = File.ReadAllBytes(TestRepo.SpecFile("synthetic/ltx/decoder-spec-block.ltx"));
        Assert.Equal(0xe1899b6d587aaaaaUL, DecodeBySegments(file, 1).Trailer.PostApplyChecksum);

        LtxFrameSegments plan = DecodeBySegments(file, 1).Plan;
        var onlyFirstPage = new LtxSegmentChecksum[2];
        for (int i = 0; i < 2; i++)
        {
            LtxFrameSegment segment = plan.Segments[i];
            using var decoder = new LtxSegmentDecoder(new MemoryStream(file[(int)segment.Offset..(int)segment.End]), plan.Header, segment);
            while (decoder.TryDecodePage(new byte[plan.Header.PageSize], out _))
            {
            }
            onlyFirstPage[i] = decoder.Finish();
        }
        onlyFirstPage[1] = onlyFirstPage[1] with { DatabaseChecksum = default };
        var e = Assert.Throws<LtxChecksumMismatchException>(() => plan.Verify(onlyFirstPage));
        Assert.Contains("post-apply", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CorruptBytes_NeverVerify_UnlessTheyDecodeToTheOriginal()
    {
        byte[] original = Snapshot(40, 1024, seed: 9);
        List<(uint Pgno, byte[] Page)> want = DecodeWhole(original).Pages;
        var random = new Random(77);
        int rejected = 0;
        for (int i = 0; i < 400; i++)
        {
            byte[] file = (byte[])original.Clone();
            file[random.Next(file.Length)] ^= (byte)(1 << random.Next(8));
            try
            {
                Decoded decoded = DecodeBySegments(file, 3000);
                Assert.True(want.Zip(decoded.Pages).All(z => z.First.Pgno == z.Second.Pgno && z.First.Page.AsSpan().SequenceEqual(z.Second.Page)),
                    "a damaged file verified and decoded to different pages");
            }
            catch (LtxFormatException)
            {
                rejected++;
            }
        }
        Assert.InRange(rejected, 380, 400);
    }

    [Fact]
    public void DamagedPageData_FailsTheFileChecksumAtVerify()
    {
        byte[] file = Snapshot(10, 1024, seed: 3);
        // Random pages are stored as LZ4 literals: flipping a byte well inside the first frame changes page 1's data only.
        file[LtxConstants.HeaderSize + 500] ^= 0x40;
        var e = Assert.Throws<LtxChecksumMismatchException>(() => DecodeBySegments(file, 2000));
        Assert.Contains("file", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void IndexNotDescribingTheFrames_RejectedWhenPlanned()
    {
        byte[] file = Snapshot(5, 1024);
        long indexOffset = LtxPageIndexReader.IndexOffset(file.AsSpan(file.Length - 24), file.Length);
        byte[] tail = file[(int)indexOffset..];
        tail[1] ^= 0x01; // the first entry's offset (100 is one varint byte) no longer points at the first frame
        var e = Assert.Throws<LtxFormatException>(() => LtxFrameSegments.Read(file.AsSpan(0, 100), new MemoryStream(tail), file.Length, 1));
        Assert.Contains("does not follow the previous frame", e.Message, StringComparison.Ordinal);

        Assert.Throws<LtxFormatException>(() => LtxFrameSegments.Read(file.AsSpan(0, 100), new MemoryStream(file[(int)indexOffset..^1]), file.Length, 1));
        Assert.Throws<LtxFormatException>(() => LtxPageIndexReader.IndexOffset(new byte[24], file.Length));
    }

    [Fact]
    public void SegmentInputLongerThanTheSegment_Rejected()
    {
        byte[] file = Snapshot(6, 1024);
        long indexOffset = LtxPageIndexReader.IndexOffset(file.AsSpan(file.Length - 24), file.Length);
        LtxFrameSegments plan = LtxFrameSegments.Read(file.AsSpan(0, 100), new MemoryStream(file[(int)indexOffset..]), file.Length, 2000);
        LtxFrameSegment first = plan.Segments[0];
        using var decoder = new LtxSegmentDecoder(new MemoryStream(file[(int)first.Offset..(int)(first.End + 1)]), plan.Header, first);
        var page = new byte[1024];
        while (decoder.TryDecodePage(page, out _))
        {
        }
        var e = Assert.Throws<LtxFormatException>(() => decoder.Finish());
        Assert.Contains("does not end where its frames end", e.Message, StringComparison.Ordinal);
    }
}
