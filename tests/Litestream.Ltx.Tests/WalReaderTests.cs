using Litestream.Ltx.Checksums;
using Litestream.Ltx.Tests.Fixtures;
using Litestream.Ltx.Wal;
using Microsoft.Win32.SafeHandles;

namespace Litestream.Ltx.Tests;

/// <summary>Upstream <c>wal_reader_test.go</c> cases plus built WALs for the page map and resume rules.</summary>
public class WalReaderTests
{
    private const string OkWal = "litestream-63225f1/testdata/wal-reader/ok/wal";

    private static SafeFileHandle OpenFixture(string name)
        => File.OpenHandle(TestRepo.SpecFile($"litestream-63225f1/testdata/wal-reader/{name}/wal"));

    private static List<(uint Pgno, uint Commit, long Offset)> ReadAll(WalReader reader)
    {
        var frames = new List<(uint, uint, long)>();
        var page = new byte[reader.PageSize];
        while (reader.TryReadFrame(page, out WalFrameHeader frame))
        {
            frames.Add((frame.Pgno, frame.Commit, reader.Offset));
        }
        return frames;
    }

    [RequiresFact(Need.Spec)]
    public void TryReadFrame_Ok_ThreeFramesWithUpstreamOffsetsAndPageData()
    {
        byte[] file = File.ReadAllBytes(TestRepo.SpecFile(OkWal));
        using SafeFileHandle handle = OpenFixture("ok");
        using WalReader reader = WalReader.Open(handle)!;
        Assert.Equal(4096u, reader.PageSize);
        Assert.Equal(0L, reader.Offset);
        Assert.Equal((0x4875a40bu, 0xa38de4f5u), (reader.Header.Salt1, reader.Header.Salt2));
        var page = new byte[4096];
        (int Start, uint Pgno, uint Commit, long Offset)[] expected = [(56, 1, 0, 32), (4176, 2, 2, 4152), (8296, 2, 2, 8272)];
        foreach ((int start, uint pgno, uint commit, long offset) in expected)
        {
            Assert.True(reader.TryReadFrame(page, out WalFrameHeader frame));
            Assert.Equal((pgno, commit, offset), (frame.Pgno, frame.Commit, reader.Offset));
            Assert.Equal(file.AsSpan(start, 4096).ToArray(), page);
        }
        Assert.False(reader.TryReadFrame(page, out _));
        Assert.Equal(8272L, reader.Offset);
    }

    [RequiresTheory(Need.Spec)]
    [InlineData("salt-mismatch")]
    [InlineData("frame-checksum-mismatch")]
    public void TryReadFrame_BrokenSecondFrame_EndsIterationAfterFirst(string fixture)
    {
        using SafeFileHandle handle = OpenFixture(fixture);
        using WalReader reader = WalReader.Open(handle)!;
        Assert.Equal([(1u, 0u, 32L)], ReadAll(reader));
    }

    [RequiresFact(Need.Spec)]
    public void TryReadFrame_WrongBufferSize_UpstreamMessage()
    {
        using SafeFileHandle handle = OpenFixture("ok");
        using WalReader reader = WalReader.Open(handle)!;
        var error = Assert.Throws<ArgumentException>(() => reader.TryReadFrame(new byte[512], out _));
        Assert.StartsWith("buffer size (512) must match page size (4096)", error.Message);
    }

    [RequiresFact(Need.Spec)]
    public void TryReadFrame_TruncatedAtEveryLength_ReadsOnlyWholeFramesNeverThrows()
    {
        byte[] file = File.ReadAllBytes(TestRepo.SpecFile(OkWal));
        // Every length around the frame boundaries plus a stride through the pages (the cases upstream
        // names: 40 = partial frame header, 56 = header only, 1000 = partial data).
        IEnumerable<int> lengths = Enumerable.Range(0, 80)
            .Concat(Enumerable.Range(0, file.Length / 97).Select(i => i * 97))
            .Concat([1000, 4151, 4152, 4153, 8271, 8272, 8273, 12391, 12392]);
        foreach (int length in lengths.Distinct())
        {
            using var temp = new TempFile(file[..length]);
            using WalReader? reader = WalReader.Open(temp.Handle);
            if (length < WalHeader.Size)
            {
                Assert.Null(reader);
                continue;
            }
            int whole = (length - WalHeader.Size) / 4120;
            Assert.Equal(whole, ReadAll(reader!).Count);
        }
    }

    [Fact]
    public void Open_ZeroLengthOrPartialHeader_NoWal()
    {
        foreach (int length in new[] { 0, 10, 31 })
        {
            using var temp = new TempFile(new byte[length]);
            Assert.Null(WalReader.Open(temp.Handle));
        }
    }

    [Fact]
    public void Open_ZeroHeader_InvalidMagic()
    {
        using var temp = new TempFile(new byte[32]);
        Assert.Equal("invalid wal header magic: 0", Assert.Throws<InvalidDataException>(() => WalReader.Open(temp.Handle)).Message);
    }

    [Fact]
    public void Open_BadHeaderChecksum_NoWalEvenWithBadVersion()
    {
        // Upstream checks the header checksum before the version: a torn header is "no WAL", not an error.
        byte[] header = new byte[32];
        new byte[] { 0x37, 0x7f, 0x06, 0x83 }.CopyTo(header, 0);
        using var temp = new TempFile(header);
        Assert.Null(WalReader.Open(temp.Handle));
    }

    [Fact]
    public void Open_BigEndianVersion1WithValidChecksum_UnsupportedVersion()
    {
        byte[] header = new byte[32];
        new byte[] { 0x37, 0x7f, 0x06, 0x83, 0, 0, 0, 1 }.CopyTo(header, 0);
        Assert.Equal((0x157b2092u, 0xbbf8341du), WalChecksum.Compute(true, 0, 0, header.AsSpan(0, 24)));
        new byte[] { 0x15, 0x7b, 0x20, 0x92, 0xbb, 0xf8, 0x34, 0x1d }.CopyTo(header, 24);
        using var temp = new TempFile(header);
        Assert.Equal("unsupported wal version: 1", Assert.Throws<InvalidDataException>(() => WalReader.Open(temp.Handle)).Message);
    }

    [Fact]
    public void WalChecksum_HeaderVectorW1()
    {
        byte[] header = Convert.FromHexString("377f0682002de218000010000000000052382eac857b1a4e");
        Assert.Equal((0x81153b65u, 0x87178e8fu), WalChecksum.Compute(false, 0, 0, header));
    }

    [Fact]
    public void WalChecksum_FrameVectorW2_OnePassEqualsIncremental()
    {
        // litestream_test.go TestChecksum: a b-tree page with a cell pointer array at the start and
        // cell content at the end.
        byte[] page = new byte[4096];
        Convert.FromHexString("0d000000080fe0000ffc0ff80ff40ff00fec0fe80fe40fe0").CopyTo(page, 0);
        Convert.FromHexString("0208020902070209020602090205020902040209020302090202020902010209").CopyTo(page, 4096 - 32);
        byte[] header = Convert.FromHexString("377f0682002de218000010000000000052382eac857b1a4e");
        byte[] frameHeader = Convert.FromHexString("0000000200000002");
        (uint s0, uint s1) = WalChecksum.Compute(false, 0, 0, header);
        (s0, s1) = WalChecksum.Compute(false, s0, s1, frameHeader);
        Assert.Equal((0xdc2f3e84u, 0x540488d3u), WalChecksum.Compute(false, s0, s1, page));
        Assert.Equal((0xdc2f3e84u, 0x540488d3u), WalChecksum.Compute(false, 0, 0, [.. header, .. frameHeader, .. page]));
    }

    [Fact]
    public void WalChecksum_NotMultipleOfEight_Throws()
        => Assert.Throws<ArgumentException>(() => WalChecksum.Compute(false, 0, 0, new byte[12]));

    [RequiresFact(Need.Spec)]
    public void FrameSaltsUntil_FrameSalts_ThreeDistinctSalts()
    {
        using SafeFileHandle handle = OpenFixture("frame-salts");
        using WalReader reader = WalReader.Open(handle)!;
        Assert.Equal([(0x1b9a294bu, 0x37f91916u), (0x1b9a294au, 0x031f195eu), (0x1b9a2949u, 0x13b3dd67u)], reader.FrameSaltsUntil((0, 0)));
        Assert.Equal([(0x1b9a294bu, 0x37f91916u), (0x1b9a294au, 0x031f195eu)], reader.FrameSaltsUntil((0x1b9a294a, 0x031f195e)));
    }

    [RequiresFact(Need.Spec)]
    public void TryReadFrame_FrameSalts_StopsAtFirstOlderGenerationFrame()
    {
        using SafeFileHandle handle = OpenFixture("frame-salts");
        using WalReader reader = WalReader.Open(handle)!;
        Assert.Equal(2u, reader.Header.CheckpointSeq);
        Assert.Equal(2, ReadAll(reader).Count);
    }

    [RequiresTheory(Need.Spec)]
    [InlineData("litestream-f29a6cd/testdata/read-wal-fields/ok", 0x4f7598fdu, 0x875ffd5bu, 0u, new uint[] { 1, 2, 2 }, new uint[] { 0, 2, 2 })]
    [InlineData("litestream-f29a6cd/testdata/wal-downloader/ok/0000000000000000.wal", 0x19106cabu, 0xbd3d631eu, 0u, new uint[] { 1, 2, 2, 2 }, new uint[] { 0, 2, 2, 2 })]
    [InlineData("litestream-f29a6cd/testdata/wal-downloader/ok/0000000000000001.wal", 0x19106cacu, 0x81c919a1u, 1u, new uint[] { 2 }, new uint[] { 2 })]
    [InlineData("litestream-f29a6cd/testdata/wal-downloader/ok/0000000000000002.wal", 0x19106cadu, 0x177a1289u, 2u, new uint[] { 2, 2 }, new uint[] { 2, 2 })]
    public void TryReadFrame_OtherWalFixtures_EveryFrameValid(string path, uint salt1, uint salt2, uint seq, uint[] pgnos, uint[] commits)
    {
        using SafeFileHandle handle = File.OpenHandle(TestRepo.SpecFile(path));
        using WalReader reader = WalReader.Open(handle)!;
        Assert.Equal((salt1, salt2, seq), (reader.Header.Salt1, reader.Header.Salt2, reader.Header.CheckpointSeq));
        var frames = ReadAll(reader);
        Assert.Equal(pgnos, frames.Select(f => f.Pgno));
        Assert.Equal(commits, frames.Select(f => f.Commit));
        Assert.Equal(Enumerable.Range(0, pgnos.Length).Select(i => 32L + (i * 4120L)), frames.Select(f => f.Offset));
    }

    [RequiresFact(Need.Spec)]
    public void ReadPageMap_Ok_LatestCommittedCopyOfPage2()
    {
        using SafeFileHandle handle = OpenFixture("ok");
        using WalReader reader = WalReader.Open(handle)!;
        WalPageMap map = reader.ReadPageMap();
        Assert.Equal(2u, map.Commit);
        Assert.Equal(12392L, map.MaxOffset);
        Assert.False(map.Limited);
        Assert.Equal(new Dictionary<uint, long> { [1] = 32, [2] = 8272 }, map.Pages);
        Assert.Equal(reader.Checksum, reader.CommitChecksum);
    }

    [Fact]
    public void ReadPageMap_ShrinkAndUncommittedTail_CommittedPagesWithinFinalCommit()
    {
        var wal = new WalFileBuilder(pageSize: 512)
            .Frame(1, 0, 1).Frame(2, 0, 2).Frame(3, 3, 3)   // txn 1: 3 pages
            .Frame(2, 0, 22).Frame(4, 4, 44)                // txn 2: grows to 4
            .Frame(1, 2, 11)                                // txn 3: VACUUM shrinks to 2
            .Frame(2, 0, 99);                               // never committed
        using var temp = new TempFile(wal.ToArray());
        using WalReader reader = WalReader.Open(temp.Handle)!;
        WalPageMap map = reader.ReadPageMap();
        Assert.Equal(new Dictionary<uint, long> { [1] = wal.FrameOffset(5), [2] = wal.FrameOffset(3) }, map.Pages);
        Assert.Equal(2u, map.Commit);
        Assert.Equal(wal.FrameOffset(6), map.MaxOffset);
        // The uncommitted frame was read (checksum chain) but the commit checksum stops before it.
        Assert.NotEqual(reader.Checksum, reader.CommitChecksum);
        Assert.Equal(wal.FrameOffset(6), reader.Offset);
    }

    [Fact]
    public void ReadPageMap_ByteLimit_StopsAtCommitBoundaryAndContinues()
    {
        var wal = new WalFileBuilder(pageSize: 1024)
            .Frame(1, 0, 1).Frame(2, 2, 2)
            .Frame(3, 3, 3)
            .Frame(1, 0, 4).Frame(4, 4, 5);
        using var temp = new TempFile(wal.ToArray());
        using WalReader reader = WalReader.Open(temp.Handle)!;
        // One frame's worth of budget still finishes the transaction it is in.
        WalPageMap first = reader.ReadPageMap(maxBytes: wal.FrameSize);
        Assert.True(first.Limited);
        Assert.Equal((2u, wal.FrameOffset(2)), (first.Commit, first.MaxOffset));
        Assert.Equal([1u, 2u], first.Pages.Keys.Order());
        WalPageMap second = reader.ReadPageMap(maxBytes: wal.FrameSize);
        Assert.True(second.Limited);
        Assert.Equal(new Dictionary<uint, long> { [3] = wal.FrameOffset(2) }, second.Pages);
        WalPageMap rest = reader.ReadPageMap();
        Assert.False(rest.Limited);
        Assert.Equal(new Dictionary<uint, long> { [1] = wal.FrameOffset(3), [4] = wal.FrameOffset(4) }, rest.Pages);
        Assert.Equal((4u, wal.FrameOffset(5)), (rest.Commit, rest.MaxOffset));
        Assert.Empty(reader.ReadPageMap().Pages);
    }

    [Fact]
    public void ReadPageMap_NoCommit_EmptyWithZeroes()
    {
        var wal = new WalFileBuilder(pageSize: 512).Frame(1, 0, 1).Frame(2, 0, 2);
        using var temp = new TempFile(wal.ToArray());
        using WalReader reader = WalReader.Open(temp.Handle)!;
        WalPageMap map = reader.ReadPageMap();
        Assert.Equal((0, 0u, 0L), (map.Pages.Count, map.Commit, map.MaxOffset));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TryReadFrame_BuiltWalEitherByteOrder_ChainVerifies(bool bigEndian)
    {
        var wal = new WalFileBuilder(pageSize: 1024, bigEndian: bigEndian).Frame(1, 0, 7).Frame(2, 2, 8);
        byte[] bytes = wal.ToArray();
        using (var temp = new TempFile(bytes))
        using (WalReader reader = WalReader.Open(temp.Handle)!)
        {
            Assert.Equal(bigEndian, reader.Header.BigEndianChecksum);
            Assert.Equal([(1u, 0u, 32L), (2u, 2u, 32L + 1048)], ReadAll(reader));
        }
        // The same bytes under the other magic break the header checksum: no WAL.
        bytes[3] ^= 1;
        using (var temp = new TempFile(bytes))
        {
            Assert.Null(WalReader.Open(temp.Handle));
        }
    }

    [RequiresFact(Need.Spec)]
    public void OpenAt_SecondFrame_ContinuesChecksumChain()
    {
        using SafeFileHandle handle = OpenFixture("ok");
        using WalReader reader = WalReader.OpenAt(handle, 4152, 0x4875a40b, 0xa38de4f5)!;
        // As upstream: positioned after the previous frame, which Offset reports.
        Assert.Equal(32L, reader.Offset);
        Assert.Equal([(2u, 2u, 4152L), (2u, 2u, 8272L)], ReadAll(reader));
    }

    [RequiresFact(Need.Spec)]
    public void OpenAt_ThenReadPageMap_OnlyFramesAfterOffset()
    {
        using SafeFileHandle handle = OpenFixture("ok");
        using WalReader reader = WalReader.OpenAt(handle, 8272, 0x4875a40b, 0xa38de4f5)!;
        WalPageMap map = reader.ReadPageMap();
        Assert.Equal(new Dictionary<uint, long> { [2] = 8272 }, map.Pages);
        Assert.Equal((2u, 12392L), (map.Commit, map.MaxOffset));
    }

    [RequiresFact(Need.Spec)]
    public void OpenAt_WrongSalts_ThrowsPrevFrameMismatch()
    {
        using SafeFileHandle handle = OpenFixture("ok");
        var error = Assert.Throws<WalPrevFrameMismatchException>(() => WalReader.OpenAt(handle, 4152, 1, 2));
        Assert.Equal("prev frame mismatch: frame at offset 32 has salts 4875a40b/a38de4f5, expected 00000001/00000002", error.Message);
    }

    [RequiresFact(Need.Spec)]
    public void OpenAt_PastEndOfFile_ThrowsPrevFrameMismatch()
    {
        using SafeFileHandle handle = OpenFixture("ok");
        var error = Assert.Throws<WalPrevFrameMismatchException>(() => WalReader.OpenAt(handle, 32 + (4 * 4120), 0x4875a40b, 0xa38de4f5));
        Assert.Equal("prev frame mismatch: frame at offset 12392 is incomplete", error.Message);
    }

    [RequiresFact(Need.Spec)]
    public void OpenAt_BadOffsets_ArgumentErrors()
    {
        using SafeFileHandle handle = OpenFixture("ok");
        Assert.StartsWith("offset (32) must be greater than the wal header size (32)",
            Assert.Throws<ArgumentOutOfRangeException>(() => WalReader.OpenAt(handle, 32, 0x4875a40b, 0xa38de4f5)).Message);
        Assert.StartsWith("unaligned wal offset 4153 for page size 4096",
            Assert.Throws<ArgumentException>(() => WalReader.OpenAt(handle, 4153, 0x4875a40b, 0xa38de4f5)).Message);
    }

    [Fact]
    public void OpenAt_HeaderRewrittenOldFramesIntact_ContinuesWithCallersSalts()
    {
        // Upstream keeps the caller's salts "in case the beginning of the file has been overwritten":
        // frames that still carry them keep being read although the header now has new salts.
        var old = new WalFileBuilder(pageSize: 512, salt1: 7, salt2: 8).Frame(1, 0, 1).Frame(2, 2, 2).Frame(2, 2, 3);
        byte[] bytes = old.ToArray();
        new WalFileBuilder(pageSize: 512, salt1: 9, salt2: 10).ToArray().CopyTo(bytes, 0);
        using var temp = new TempFile(bytes);
        using WalReader reader = WalReader.OpenAt(temp.Handle, old.FrameOffset(1), 7, 8)!;
        Assert.Equal((9u, 10u), (reader.Header.Salt1, reader.Header.Salt2));
        Assert.Equal((7u, 8u), reader.Salts);
        Assert.Equal([(2u, 2u, old.FrameOffset(1)), (2u, 2u, old.FrameOffset(2))], ReadAll(reader));
        using WalReader fresh = WalReader.Open(temp.Handle)!;
        Assert.Empty(ReadAll(fresh));
    }

    [Fact]
    public void ReadPageMap_WalLongerThanOneReadAheadRun_EveryFrameAtItsOffset()
    {
        // 200 frames of 4 KiB pages are 6+ read-ahead runs; runs end mid-frame, so frames straddle them.
        var wal = new WalFileBuilder(pageSize: 4096);
        var expected = new Dictionary<uint, long>();
        for (int i = 0; i < 200; i++)
        {
            uint pgno = (uint)(i % 13) + 1;
            wal.Frame(pgno, i % 10 == 9 ? 13u : 0u, (byte)i);
            expected[pgno] = wal.FrameOffset(i);
        }
        using var temp = new TempFile(wal.ToArray());
        using WalReader reader = WalReader.Open(temp.Handle)!;
        WalPageMap map = reader.ReadPageMap();
        Assert.Equal(expected, map.Pages);
        Assert.Equal((13u, wal.FrameOffset(200)), (map.Commit, map.MaxOffset));
        using WalReader pages = WalReader.Open(temp.Handle)!;
        var page = new byte[4096];
        for (int i = 0; i < 200; i++)
        {
            Assert.True(pages.TryReadFrame(page, out _));
            Assert.All(page, b => Assert.Equal((byte)i, b));
        }
        Assert.False(pages.TryReadFrame(page, out _));
    }

    [Fact]
    public void ReadPageMap_EndOfWalRewrittenAfterARead_NextCallReadsItFromTheFile()
    {
        // A frame that ended iteration (an older generation's frame, then a partly written one) is read again
        // from the file on the next call, not from what was read ahead: SQLite writes frames while we read.
        var wal = new WalFileBuilder(pageSize: 1024).Frame(1, 0, 1).Frame(2, 2, 2).Frame(3, 3, 3);
        byte[] whole = wal.ToArray();
        byte[] stale = new WalFileBuilder(pageSize: 1024, salt1: 9, salt2: 10).Frame(7, 0, 7).Frame(8, 0, 8).Frame(9, 9, 9).ToArray();
        byte[] initial = whole.ToArray();
        stale.AsSpan((int)wal.FrameOffset(2)).CopyTo(initial.AsSpan((int)wal.FrameOffset(2)));
        using var temp = new TempFile(initial);
        using WalReader reader = WalReader.Open(temp.Handle)!;
        WalPageMap first = reader.ReadPageMap();
        Assert.Equal((2u, wal.FrameOffset(2)), (first.Commit, first.MaxOffset));

        void Rewrite(byte[] bytes)
        {
            using var file = new FileStream(temp.Path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
            file.Write(bytes);
            file.SetLength(bytes.Length);
        }
        Rewrite(whole[..(int)(wal.FrameOffset(2) + 100)]);
        Assert.Empty(reader.ReadPageMap().Pages);
        Rewrite(whole);
        WalPageMap second = reader.ReadPageMap();
        Assert.Equal(new Dictionary<uint, long> { [3] = wal.FrameOffset(2) }, second.Pages);
        Assert.Equal((3u, wal.FrameOffset(3)), (second.Commit, second.MaxOffset));
    }
}
