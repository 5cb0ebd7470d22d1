using Litestream.Ltx.Tests.Fixtures;

namespace Litestream.Ltx.Tests;

public class LtxEncoderTests
{
    private static readonly LtxHeader s_specHeader = new()
    {
        PageSize = 1024,
        Commit = 2,
        MinTxid = new Txid(1),
        MaxTxid = new Txid(1),
        Timestamp = 1000,
    };

    [Fact]
    public void Encode_DecoderSpec_PagesRoundTripWithBlockFlag()
    {
        byte[] file = LtxFileBuilder.Build(s_specHeader, [(1, LtxFileBuilder.Page(1024, (byte)'2')), (2, LtxFileBuilder.Page(1024, (byte)'3'))], 0xe1899b6d587aaaaa);
        using var decoder = new LtxDecoder(new MemoryStream(file));
        Assert.Equal(s_specHeader, decoder.DecodeHeader());
        var page = new byte[1024];
        Assert.True(decoder.TryDecodePage(page, out LtxPageHeader ph));
        Assert.Equal(new LtxPageHeader(1, LtxConstants.PageHeaderFlagSize), ph);
        Assert.All(page, b => Assert.Equal((byte)'2', b));
        LtxTrailer trailer = decoder.Close();
        Assert.Equal(0xe1899b6d587aaaaaUL, trailer.PostApplyChecksum);
        Assert.Equal(100L, decoder.PageIndex.Entries[0].Offset);
    }

    [Fact]
    public void Close_IndexLargerThanItsMemoryBuffer_SpooledBesideTheOutputAndWrittenExactly()
    {
        // 150 000 pages: ~1.2 MB of index varints, past the 1 MiB kept in memory, so the rest goes to a file beside
        // the output, which is gone after Close.
        const uint Pages = 150_000;
        string dir = Directory.CreateTempSubdirectory("ltx-spool-").FullName;
        string path = Path.Combine(dir, "big.ltx");
        var expected = new List<LtxPageIndexEntry>();
        using (var encoder = new LtxEncoder(new FileStream(path, FileMode.CreateNew)))
        {
            encoder.EncodeHeader(new LtxHeader { Flags = LtxConstants.HeaderFlagNoChecksum, PageSize = 512, Commit = Pages, MinTxid = new Txid(1), MaxTxid = new Txid(9), Timestamp = 1000 });
            byte[] page = new byte[512];
            for (uint pgno = 1; pgno <= Pages; pgno++)
            {
                BitConverter.TryWriteBytes(page, pgno);
                long offset = encoder.BytesWritten;
                encoder.EncodePage(pgno, page);
                expected.Add(new LtxPageIndexEntry(pgno, offset, encoder.BytesWritten - offset));
            }
            encoder.Close(0);
        }
        Assert.Equal(["big.ltx"], Directory.GetFiles(dir).Select(Path.GetFileName));
        using var decoder = new LtxDecoder(File.OpenRead(path));
        decoder.DecodeHeader();
        byte[] decoded = new byte[512];
        uint count = 0;
        while (decoder.TryDecodePage(decoded, out LtxPageHeader header))
        {
            Assert.Equal(++count, BitConverter.ToUInt32(decoded));
        }
        decoder.Close();
        Assert.Equal(Pages, count);
        Assert.Equal(expected, decoder.PageIndex.Entries);
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public void Close_WrongPostApplyOnChecksummedSnapshot_DecoderDetectsMismatch()
    {
        byte[] file = LtxFileBuilder.Build(s_specHeader, [(1, LtxFileBuilder.Page(1024, (byte)'2')), (2, LtxFileBuilder.Page(1024, (byte)'3'))], 0x8000000000000001);
        using var decoder = new LtxDecoder(new MemoryStream(file));
        var error = Assert.Throws<LtxChecksumMismatchException>(() => decoder.Close());
        Assert.Equal("post-apply checksum mismatch: expected 8000000000000001, got e1899b6d587aaaaa", error.Message);
    }

    [Theory]
    [InlineData(new uint[] { 2 }, "snapshot transaction file must start with page number 1")]
    [InlineData(new uint[] { 1, 3 }, "nonsequential page numbers in snapshot transaction: 1,3")]
    [InlineData(new uint[] { 1, 2, 5 }, "page number 5 out-of-bounds for commit size 4")]
    public void EncodePage_SnapshotRules_ExactErrors(uint[] pgnos, string message)
    {
        using var encoder = new LtxEncoder(new MemoryStream());
        encoder.EncodeHeader(LtxFileBuilder.Header(1, 1, 4, 512));
        var error = Assert.Throws<LtxFormatException>(() =>
        {
            foreach (uint pgno in pgnos)
            {
                encoder.EncodePage(pgno, new byte[512]);
            }
        });
        Assert.Equal(message, error.Message);
    }

    [Fact]
    public void EncodePage_OutOfOrderIncremental_ExactError()
    {
        using var encoder = new LtxEncoder(new MemoryStream());
        encoder.EncodeHeader(LtxFileBuilder.Header(2, 2, 4, 512));
        encoder.EncodePage(2, new byte[512]);
        Assert.Equal("out-of-order page numbers: 2,1", Assert.Throws<LtxFormatException>(() => encoder.EncodePage(1, new byte[512])).Message);
    }

    [Fact]
    public void EncodePage_LockPage_Rejected()
    {
        using var encoder = new LtxEncoder(new MemoryStream());
        encoder.EncodeHeader(LtxFileBuilder.Header(2, 2, 262150));
        Assert.Equal("cannot encode lock page: pgno=262145", Assert.Throws<LtxFormatException>(() => encoder.EncodePage(262145, new byte[4096])).Message);
    }

    [Fact]
    public void EncodePage_SnapshotSkippingPastLockPage_Rejected()
    {
        using var encoder = new LtxEncoder(Stream.Null);
        encoder.EncodeHeader(LtxFileBuilder.Header(1, 1, 262150));
        var page = new byte[4096];
        for (uint pgno = 1; pgno <= 262144; pgno++)
        {
            encoder.EncodePage(pgno, page);
        }
        Assert.Equal("nonsequential page numbers in snapshot transaction (skip lock page): 262144,262147",
            Assert.Throws<LtxFormatException>(() => encoder.EncodePage(262147, page)).Message);
    }

    [Fact]
    public void EncodeDecode_SnapshotAcrossLockPage_VectorC5AndZeroLockPage()
    {
        // ltx decoder_test.go WithLockPage: Commit = LockPgno + 10, every page 4096×'x', checksummed.
        const uint commit = 262155, lockPgno = 262145;
        byte[] page = Enumerable.Repeat((byte)'x', 4096).ToArray();
        var file = new MemoryStream();
        using (var encoder = new LtxEncoder(file, leaveOpen: true))
        {
            encoder.EncodeHeader(LtxFileBuilder.Header(1, 1, commit) with { Flags = 0 });
            for (uint pgno = 1; pgno <= commit; pgno++)
            {
                if (pgno != lockPgno)
                {
                    encoder.EncodePage(pgno, page);
                }
            }
            encoder.Close(0xc19b668c376662c7);
        }
        file.Position = 0;
        var check = new DatabaseImageCheck(4096, lockPgno, (byte)'x');
        using var decoder = new LtxDecoder(file);
        decoder.DecodeDatabaseTo(check);
        Assert.Equal((long)commit * 4096, check.Length);
        Assert.Equal(0xc19b668c376662c7UL, decoder.Trailer.PostApplyChecksum);
        Assert.Equal((int)commit - 1, decoder.PageIndex.Entries.Count);
    }

    [Fact]
    public void EncodePage_WrongBufferSizeOrPgnoZero_Rejected()
    {
        using var encoder = new LtxEncoder(Stream.Null);
        encoder.EncodeHeader(LtxFileBuilder.Header(2, 2, 4, 512));
        Assert.Equal("invalid page buffer size: 4096, expecting 512", Assert.Throws<LtxFormatException>(() => encoder.EncodePage(1, new byte[4096])).Message);
        Assert.Equal("page number required", Assert.Throws<LtxFormatException>(() => encoder.EncodePage(0, new byte[512])).Message);
    }

    [Fact]
    public void Close_SnapshotMissingPages_Rejected()
    {
        using var encoder = new LtxEncoder(Stream.Null);
        encoder.EncodeHeader(LtxFileBuilder.Header(1, 1, 3, 512));
        encoder.EncodePage(1, new byte[512]);
        Assert.Equal("snapshot transaction file is missing pages: last page 1, commit 3", Assert.Throws<LtxFormatException>(() => encoder.Close(0)).Message);
    }

    [Fact]
    public void EncodeHeader_Invalid_ValidatesFirst()
    {
        using var encoder = new LtxEncoder(Stream.Null);
        Assert.Equal("invalid page size: 1000", Assert.Throws<LtxFormatException>(() => encoder.EncodeHeader(LtxFileBuilder.Header(1, 1, 1, 1000))).Message);
        encoder.EncodeHeader(LtxFileBuilder.Header(1, 1, 0, 512));
        Assert.Equal("cannot encode header: expected Header, encoder is at Pages",
            Assert.Throws<InvalidOperationException>(() => encoder.EncodeHeader(LtxFileBuilder.Header(1, 1, 0, 512))).Message);
        encoder.Close(0);
        Assert.Equal("cannot close: encoder closed", Assert.Throws<InvalidOperationException>(() => encoder.Close(0)).Message);
    }

    [Fact]
    public void Close_CommitZeroChecksummed_EmptyDatabaseChecksum()
    {
        var output = new MemoryStream();
        using (var encoder = new LtxEncoder(output, leaveOpen: true))
        {
            encoder.EncodeHeader(s_specHeader with { Commit = 0 });
            Assert.Equal(LtxConstants.ChecksumFlag, encoder.Close(LtxConstants.ChecksumFlag).PostApplyChecksum);
            Assert.Equal(output.Length, encoder.BytesWritten);
        }
        output.Position = 0;
        using var decoder = new LtxDecoder(output);
        Assert.Equal(LtxConstants.ChecksumFlag, decoder.Close().PostApplyChecksum);
    }

    /// <summary>A write-only sink that checks a database image page by page instead of storing it.</summary>
    private sealed class DatabaseImageCheck(int pageSize, uint lockPgno, byte fill) : Stream
    {
        private long _length;

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => _length;
        public override long Position { get => _length; set => throw new NotSupportedException(); }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            while (buffer.Length > 0)
            {
                // Check up to the end of the current page at once.
                int n = (int)Math.Min(buffer.Length, pageSize - (_length % pageSize));
                byte expected = (uint)(_length / pageSize) + 1 == lockPgno ? (byte)0 : fill;
                int bad = buffer[..n].IndexOfAnyExcept(expected);
                if (bad >= 0)
                {
                    throw new InvalidDataException($"byte {_length + bad} is {buffer[bad]}, expected {expected}");
                }
                buffer = buffer[n..];
                _length += n;
            }
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }

    [Fact]
    public void Close_CommitZeroChecksummedWithoutFlag_Rejected()
    {
        using var encoder = new LtxEncoder(new MemoryStream());
        encoder.EncodeHeader(s_specHeader with { Commit = 0 });
        Assert.Equal("post-apply checksum must be empty for zero-length database", Assert.Throws<LtxFormatException>(() => encoder.Close(1)).Message);
    }

    [Fact]
    public void EncodePage_BeforeHeader_InvalidOperation()
    {
        using var encoder = new LtxEncoder(new MemoryStream());
        Assert.Equal("cannot encode page: expected Pages, encoder is at Header", Assert.Throws<InvalidOperationException>(() => encoder.EncodePage(1, new byte[512])).Message);
    }

    [Fact]
    public void EncodeDecode_TenThousandPages_NoPerPageAllocation()
    {
        var random = new Random(7);
        byte[] page = LtxFileBuilder.RandomPage(random, 4096, textLike: true);
        var output = new MemoryStream(64 << 20);
        using var encoder = new LtxEncoder(output, leaveOpen: true);
        encoder.EncodeHeader(LtxFileBuilder.Header(1, 1, 10_000));
        encoder.EncodePage(1, page); // warm up pools and JIT
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (uint pgno = 2; pgno <= 10_000; pgno++)
        {
            encoder.EncodePage(pgno, page);
        }
        long encodeBytes = GC.GetAllocatedBytesForCurrentThread() - before;
        encoder.Close(0);
        // The index list doubles its backing array a few times: ~10k entries × 24 B × 2 ≈ 0.5 MB.
        Assert.True(encodeBytes < 1_000_000, $"encoding 9 999 pages allocated {encodeBytes} bytes");

        output.Position = 0;
        using var decoder = new LtxDecoder(output);
        decoder.DecodeHeader();
        var buffer = new byte[4096];
        decoder.TryDecodePage(buffer, out _);
        before = GC.GetAllocatedBytesForCurrentThread();
        while (decoder.TryDecodePage(buffer, out _))
        {
        }
        long decodeBytes = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(decodeBytes < 1_000_000, $"decoding 10 000 pages allocated {decodeBytes} bytes");
        decoder.Close();
    }
}
