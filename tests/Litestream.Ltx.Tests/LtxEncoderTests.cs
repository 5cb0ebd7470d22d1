using System.Diagnostics;
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
        using var encoder = new LtxEncoder(new MemoryStream());
        encoder.EncodeHeader(LtxFileBuilder.Header(1, 1, 2097160, 512));
        var page = new byte[512];
        for (uint pgno = 1; pgno < 2097152; pgno++)
        {
            encoder.EncodePage(pgno, page);
        }
        encoder.EncodePage(2097152, page);
        Assert.Equal("nonsequential page numbers in snapshot transaction (skip lock page): 2097152,2097155",
            Assert.Throws<LtxFormatException>(() => encoder.EncodePage(2097155, page)).Message);
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

    [Fact]
    public void Encode_ReferenceDecoder_AgreesOnPagesIndexAndChecksum()
    {
        string? tool = ReferenceTool();
        if (tool is null)
        {
            return; // reported by Encode_ReferenceDecoder_Available
        }
        var random = new Random(11);
        var pages = Enumerable.Range(1, 20).Select(i => ((uint)i, LtxFileBuilder.RandomPage(random, 4096, i % 2 == 0))).ToList();
        byte[] file = LtxFileBuilder.Build(LtxFileBuilder.Header(1, 5, 20) with { WalOffset = 32, WalSize = 4120 * 20, WalSalt1 = 7, WalSalt2 = 9 }, pages);
        string path = Path.Combine(Path.GetTempPath(), $"enc-{Guid.NewGuid():N}.ltx");
        File.WriteAllBytes(path, file);
        try
        {
            string dump = Run("python3", tool, "dump", path);
            using var decoder = new LtxDecoder(new MemoryStream(file));
            LtxTrailer trailer = decoder.Close();
            Assert.Contains($"file_checksum       0x{trailer.FileChecksum:x16} (verified)", dump);
            string index = "index [" + string.Join(", ", decoder.PageIndex.Entries.Select(e => $"({e.Pgno}, {e.Offset}, {e.Size})")) + "]";
            Assert.Contains(index, dump);
            Assert.Contains("wal_salt2            9", dump);
            Assert.Equal(20, dump.Split('\n').Count(l => l.StartsWith("frame pgno=", StringComparison.Ordinal) && l.Contains("enc=lz4-block")));
        }
        finally
        {
            File.Delete(path);
        }
    }

    internal static string? ReferenceTool()
    {
        string? root = SharedSpec.Root;
        return root is not null && File.Exists(Path.Combine(root, "tools", "ltx_ref.py")) && Which("python3") ? Path.Combine(root, "tools", "ltx_ref.py") : null;
    }

    internal static string Run(string exe, params string[] args)
    {
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using Process p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{exe} {string.Join(' ', args)} failed: {output}");
        return output;
    }

    private static bool Which(string exe)
        => (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => File.Exists(Path.Combine(d, exe)));
}
