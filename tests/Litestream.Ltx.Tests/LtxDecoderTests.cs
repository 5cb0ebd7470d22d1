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

    [RequiresTheory(Need.Spec)]
    [InlineData("synthetic/ltx/decoder-spec-block.ltx", 0xf2f5bf19c408f15aUL, 100L, 24L, 124L, 24L)]
    [InlineData("synthetic/ltx/decoder-spec-frame.ltx", 0xa552da3e304d0facUL, 100L, 39L, 139L, 39L)]
    public void Decode_DecoderSpecFixtures_MatchReadme(string file, ulong fileChecksum, long off1, long size1, long off2, long size2)
    {
        var (header, pages, trailer, index) = DecodeAll(TestRepo.SpecFile(file));
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

    [RequiresFact(Need.Spec)]
    public void Decode_IncrementalChecksummed_MatchesReadme()
    {
        var (header, pages, trailer, _) = DecodeAll(TestRepo.SpecFile("synthetic/ltx/incremental-checksummed.ltx"));
        Assert.Equal(new Txid(2), header.MinTxid);
        Assert.Equal(2000L, header.Timestamp);
        Assert.Equal(0xe1899b6d587aaaaaUL, header.PreApplyChecksum);
        Assert.Equal(2u, Assert.Single(pages).Pgno);
        Assert.Equal(0x95c99b6c1d2fffffUL, trailer.PostApplyChecksum);
        Assert.Equal(0xefc2305d8f816749UL, trailer.FileChecksum);
    }

    [RequiresTheory(Need.Spec)]
    [InlineData("synthetic/replica-file/ltx/0/0000000000000001-0000000000000001.ltx", 1UL, 1UL, 2u, 1700000000000L, 32L, 12360L, 0xc76698f35fef4208UL)]
    [InlineData("synthetic/replica-file/ltx/0/0000000000000002-0000000000000002.ltx", 2UL, 2UL, 24u, 1700000001000L, 12392L, 98880L, 0xb5082cc6551f57e4UL)]
    [InlineData("synthetic/replica-file/ltx/1/0000000000000001-0000000000000002.ltx", 1UL, 2UL, 24u, 1700000001000L, 0L, 0L, 0xf525a5b87bdc6876UL)]
    [InlineData("synthetic/replica-file/ltx/9/0000000000000001-0000000000000002.ltx", 1UL, 2UL, 24u, 1700000001500L, 107152L, 4120L, 0xdee74e2ba5885caeUL)]
    public void Decode_ReplicaFixtures_MatchReadme(string file, ulong min, ulong max, uint commit, long timestamp, long walOffset, long walSize, ulong fileChecksum)
    {
        var (header, pages, trailer, _) = DecodeAll(TestRepo.SpecFile(file));
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

    [RequiresFact(Need.Spec)]
    public void DecodeDatabaseTo_L9Snapshot_EqualsExpectedDatabase()
    {
        using var decoder = new LtxDecoder(File.OpenRead(TestRepo.SpecFile("synthetic/replica-file/ltx/9/0000000000000001-0000000000000002.ltx")));
        var output = new MemoryStream();
        decoder.DecodeDatabaseTo(output);
        byte[] expected = File.ReadAllBytes(TestRepo.SpecFile("synthetic/replica-file/expected-txid2.db"));
        Assert.Equal(expected, output.ToArray());
        Assert.Equal(0xe440d6be942c0a9eUL, DatabaseChecksum.Compute(expected, 4096));
    }

    [RequiresFact(Need.Spec)]
    public void DecodeHeader_LtxVersion1Fixture_HeaderFactsThenRejectedWithVersionMessage()
    {
        string path = TestRepo.SpecFile(V1Fixture);
        using var decoder = new LtxDecoder(File.OpenRead(path));
        LtxHeader header = decoder.DecodeHeader();
        Assert.Equal((0u, 4096u, 10u, new Txid(13), new Txid(13), 0L), (header.Flags, header.PageSize, header.Commit, header.MinTxid, header.MaxTxid, header.Timestamp));
        Assert.Equal(0x9c74a15b4e4f246cUL, header.PreApplyChecksum);
        Assert.Equal((0L, 0L, 0u, 0u), (header.WalOffset, header.WalSize, header.WalSalt1, header.WalSalt2));
        var error = Assert.Throws<LtxFormatException>(() => decoder.TryDecodePage(new byte[4096], out _));
        Assert.Equal("invalid page header flags: 0x5351 (not an ltx v3 file; ltx v1/v2 files are not supported)", error.Message);
    }

    [RequiresFact(Need.Spec)]
    public void Version1Fixture_PostApplyEqualsRollingChecksumOfDatabase()
    {
        byte[] file = File.ReadAllBytes(TestRepo.SpecFile(V1Fixture));
        byte[] database = File.ReadAllBytes(TestRepo.SpecFile("litestream-63225f1/testdata/store/open-and-write-snapshot/dbs/sqlite.db/database"));
        Assert.Equal(0xfe3831a381c602b9UL, System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(file.AsSpan(file.Length - 16)));
        Assert.Equal(0xfe3831a381c602b9UL, DatabaseChecksum.Compute(database, 4096));
        // v1 checksums the raw file bytes up to the file checksum (VECTORS.md §8).
        Assert.Equal(0x9496a29358326fb5UL, LtxConstants.ChecksumFlag | Crc64Iso.Compute(file.AsSpan(0, file.Length - 8)));
    }

    private const string V1Fixture = "litestream-63225f1/testdata/store/open-and-write-snapshot/dbs/sqlite.db/ltx/000000000000000d-000000000000000d.ltx";

    [RequiresFact(Need.Spec)]
    public void DecodeDatabaseTo_L0Snapshot_EqualsExpectedTxid1Database()
    {
        using var decoder = new LtxDecoder(File.OpenRead(TestRepo.SpecFile("synthetic/replica-file/ltx/0/0000000000000001-0000000000000001.ltx")));
        var output = new MemoryStream();
        decoder.DecodeDatabaseTo(output);
        byte[] expected = File.ReadAllBytes(TestRepo.SpecFile("synthetic/replica-file/expected-txid1.db"));
        Assert.Equal(expected, output.ToArray());
        Assert.Equal(0xa721fd1335d23192UL, DatabaseChecksum.Compute(expected, 4096));
        Assert.Equal("05CD90AA9DBF197A89FC612F1F7F1523683DD76EB6636092C4884B8FCD8E03FD", Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(expected)));
    }

    [RequiresTheory(Need.Spec)]
    [InlineData(new[] { "0/0000000000000001-0000000000000001.ltx" }, "expected-txid1.db")]
    [InlineData(new[] { "0/0000000000000001-0000000000000001.ltx", "0/0000000000000002-0000000000000002.ltx" }, "expected-txid2.db")]
    [InlineData(new[] { "1/0000000000000001-0000000000000002.ltx" }, "expected-txid2.db")]
    [InlineData(new[] { "9/0000000000000001-0000000000000002.ltx" }, "expected-txid2.db")]
    public void Apply_ReplicaFixturePlans_ByteIdenticalDatabase(string[] plan, string expected)
    {
        // Restore as LTX.md §8 applies files: each page at (pgno - 1) * PageSize, then truncate to Commit.
        var db = new MemoryStream();
        Txid position = Txid.Zero;
        foreach (string file in plan)
        {
            using var decoder = new LtxDecoder(File.OpenRead(TestRepo.SpecFile("synthetic/replica-file/ltx/" + file)));
            LtxHeader header = decoder.DecodeHeader();
            Assert.True(Txid.IsContiguous(position, header.MinTxid, header.MaxTxid));
            var page = new byte[header.PageSize];
            while (decoder.TryDecodePage(page, out LtxPageHeader ph))
            {
                db.Position = (ph.Pgno - 1L) * header.PageSize;
                db.Write(page);
            }
            decoder.Close();
            db.SetLength((long)header.Commit * header.PageSize);
            position = header.MaxTxid;
        }
        Assert.Equal(File.ReadAllBytes(TestRepo.SpecFile("synthetic/replica-file/" + expected)), db.ToArray());
    }

    [RequiresFact(Need.Spec)]
    public void Decode_ReplicaL0Txid2_FirstAndLastFrameAndIndexOffsetMatchReadme()
    {
        var (_, pages, _, index) = DecodeAll(TestRepo.SpecFile("synthetic/replica-file/ltx/0/0000000000000002-0000000000000002.ltx"));
        Assert.Equal(Enumerable.Range(1, 24).Select(i => (uint)i), pages.Select(p => p.Pgno));
        Assert.Equal(new LtxPageIndexEntry(1, 100, 164), index.Entries[0]);
        Assert.Equal(new LtxPageIndexEntry(24, 16901, 475), index.Entries[^1]);
        // Index begins after the last frame and the 6-byte end marker.
        Assert.Equal(17382L, index.Entries[^1].Offset + index.Entries[^1].Size + LtxConstants.PageHeaderSize);
    }

    [Fact]
    public void DecodeDatabaseTo_NonSnapshot_Rejected()
    {
        byte[] file = LtxFileBuilder.Build(LtxFileBuilder.Header(2, 2, 1, 512), [(1, new byte[512])]);
        using var decoder = new LtxDecoder(new MemoryStream(file));
        Assert.Equal("cannot decode database from non-snapshot file: min txid 0000000000000002",
            Assert.Throws<LtxFormatException>(() => decoder.DecodeDatabaseTo(Stream.Null)).Message);
    }

    /// <summary>
    /// A snapshot holds every page 1..Commit (LTX.md §3); one whose Commit lies past its last page is refused at the
    /// end marker, before a reader sizes a database by it (Commit 2^32-1 was a 16 TiB sparse restore).
    /// </summary>
    [Theory]
    [InlineData(29u, 20, "snapshot transaction file is missing pages: last page 20, commit 29")]
    [InlineData(35u, 29, "snapshot transaction file is missing pages: last page 29, commit 35")]
    [InlineData(uint.MaxValue, 29, "snapshot transaction file is missing pages: last page 29, commit 4294967295")]
    public void TryDecodePage_SnapshotWhoseCommitPassesItsLastPage_RefusedAtTheEndMarker(uint commit, int pages, string message)
    {
        byte[] file = LtxFileBuilder.BuildUnchecked(LtxFileBuilder.Header(1, 1, commit, 512),
            Enumerable.Range(1, pages).Select(p => ((uint)p, LtxFileBuilder.Page(512, (byte)p))));
        using var decoder = new LtxDecoder(new MemoryStream(file));
        decoder.DecodeHeader();
        byte[] page = new byte[512];
        for (int i = 0; i < pages; i++)
        {
            Assert.True(decoder.TryDecodePage(page, out _));
        }
        Assert.Equal(message, Assert.Throws<LtxFormatException>(() => decoder.TryDecodePage(page, out _)).Message);
        using var whole = new LtxDecoder(new MemoryStream(file));
        Assert.Equal(message, Assert.Throws<LtxFormatException>(() => whole.DecodeDatabaseTo(Stream.Null)).Message);
    }

    [Fact]
    public void TryDecodePage_IncrementalWithCommitPastItsPages_Decodes()
    {
        // Only snapshots must hold every page; an incremental file lists just the pages it changed.
        byte[] file = LtxFileBuilder.Build(LtxFileBuilder.Header(2, 2, 90, 512), [(3, LtxFileBuilder.Page(512, 3))]);
        using var decoder = new LtxDecoder(new MemoryStream(file));
        decoder.Close();
        Assert.Equal(90u, decoder.Header.Commit);
    }

    [Fact]
    public void DecodeDatabaseTo_CommitZeroSnapshot_EmptyDatabase()
    {
        byte[] file = LtxFileBuilder.Build(LtxFileBuilder.Header(1, 1, 0, 512), []);
        using var decoder = new LtxDecoder(new MemoryStream(file));
        var output = new MemoryStream();
        decoder.DecodeDatabaseTo(output);
        Assert.Equal(0, output.Length);
        Assert.Empty(decoder.PageIndex.Entries);
    }

    [Fact]
    public void Decode_Misuse_InvalidOperationWithState()
    {
        byte[] file = LtxFileBuilder.Build(LtxFileBuilder.Header(1, 1, 1, 512), [(1, new byte[512])]);
        using var decoder = new LtxDecoder(new MemoryStream(file));
        Assert.Equal("cannot decode page: expected Pages, decoder is at Header",
            Assert.Throws<InvalidOperationException>(() => decoder.TryDecodePage(new byte[512], out _)).Message);
        Assert.Equal("page index is available after Close", Assert.Throws<InvalidOperationException>(() => decoder.PageIndex).Message);
        decoder.DecodeHeader();
        Assert.Throws<ArgumentException>(() => decoder.TryDecodePage(new byte[4096], out _));
        LtxTrailer trailer = decoder.Close();
        Assert.Equal(trailer, decoder.Close());
        Assert.Equal("cannot decode header: decoder closed", Assert.Throws<InvalidOperationException>(() => decoder.DecodeHeader()).Message);
    }

    [Fact]
    public void Close_WithoutReadingPages_StillVerifiesFileChecksum()
    {
        byte[] file = LtxFileBuilder.Build(LtxFileBuilder.Header(2, 2, 3, 512), [(2, LtxFileBuilder.Page(512, 9)), (3, LtxFileBuilder.Page(512, 8))]);
        file[^1] ^= 1;
        using var decoder = new LtxDecoder(new MemoryStream(file));
        var error = Assert.Throws<LtxChecksumMismatchException>(() => decoder.Close());
        Assert.StartsWith("file checksum mismatch: expected ", error.Message);
        Assert.Equal(error.Expected ^ 1, error.Actual);
    }

    [Fact]
    public void Decode_IndexDisagreesWithFrames_FormatError()
    {
        byte[] file = LtxFileBuilder.Build(LtxFileBuilder.Header(2, 2, 3, 512), [(2, LtxFileBuilder.Page(512, 9)), (3, LtxFileBuilder.Page(512, 8))]);
        using var scan = new LtxDecoder(new MemoryStream(file));
        scan.Close();
        // Point entry 2's offset one byte off: uvarint of the first entry's offset (100) is one byte.
        long indexStart = scan.PageIndex.Entries[^1].Offset + scan.PageIndex.Entries[^1].Size + LtxConstants.PageHeaderSize;
        file[indexStart + 1] = 101;
        using var decoder = new LtxDecoder(new MemoryStream(file));
        Assert.Equal("page index mismatch: its pages, offsets or sizes differ from the page frames", Assert.Throws<LtxFormatException>(() => decoder.Close()).Message);
        // The same check without keeping the index (constant memory), and the index is then not available.
        using var lean = new LtxDecoder(new MemoryStream(file), leaveOpen: false) { KeepPageIndex = false };
        Assert.Equal("page index mismatch: its pages, offsets or sizes differ from the page frames", Assert.Throws<LtxFormatException>(() => lean.Close()).Message);
        using var valid = new LtxDecoder(new MemoryStream(LtxFileBuilder.Build(LtxFileBuilder.Header(2, 2, 3, 512), [(2, LtxFileBuilder.Page(512, 9))])), leaveOpen: false) { KeepPageIndex = false };
        valid.Close();
        Assert.Equal("page index not kept: KeepPageIndex is false", Assert.Throws<InvalidOperationException>(() => valid.PageIndex).Message);
    }
}
