using System.Buffers.Binary;
using Litestream.Ltx.Tests.Fixtures;

namespace Litestream.Ltx.Tests;

/// <summary>
/// The encrypted LTX extension (docs/ENCRYPTION.md): pages sealed per page, every reading path (whole file,
/// segments, single frames, compaction) opening them, and every kind of damage or wrong key refused by name.
/// </summary>
public class LtxEncryptionTests
{
    private static readonly LtxPageCipher s_key = new(Enumerable.Range(1, 32).Select(i => (byte)i).ToArray());
    private static readonly LtxPageCipher s_oldKey = new(Enumerable.Range(101, 32).Select(i => (byte)i).ToArray());
    private static readonly LtxKeyRing s_ring = new(s_key);

    private static List<(uint Pgno, byte[] Page)> Pages(int count, int seed = 1)
    {
        var random = new Random(seed);
        return Enumerable.Range(1, count).Select(p => ((uint)p, LtxFileBuilder.RandomPage(random, 4096, textLike: p % 2 == 0))).ToList();
    }

    private static byte[] Encode(LtxHeader header, IEnumerable<(uint Pgno, byte[] Page)> pages, LtxPageCipher? cipher)
    {
        var output = new MemoryStream();
        using (var encoder = new LtxEncoder(output, leaveOpen: true) { Cipher = cipher })
        {
            encoder.EncodeHeader(header);
            foreach ((uint pgno, byte[] page) in pages)
            {
                encoder.EncodePage(pgno, page);
            }
            encoder.Close(0);
        }
        return output.ToArray();
    }

    private static (LtxHeader Header, List<(uint Pgno, byte[] Page)> Pages) Decode(byte[] file, LtxKeyRing? keys)
    {
        using var decoder = new LtxDecoder(new MemoryStream(file)) { Keys = keys };
        LtxHeader header = decoder.DecodeHeader();
        var pages = new List<(uint, byte[])>();
        var buffer = new byte[header.PageSize];
        while (decoder.TryDecodePage(buffer, out LtxPageHeader ph))
        {
            pages.Add((ph.Pgno, buffer.ToArray()));
        }
        decoder.Close();
        return (header, pages);
    }

    private static byte[] Snapshot(LtxPageCipher? cipher, int pages = 20) => Encode(LtxFileBuilder.Header(1, 5, (uint)pages), Pages(pages), cipher);

    [Fact]
    public void RoundTrip_PagesComeBack_HeaderNamesKeyAndSalt_NoPlaintextInTheFile()
    {
        List<(uint Pgno, byte[] Page)> pages = Pages(20);
        byte[] file = Snapshot(s_key);
        (LtxHeader header, List<(uint Pgno, byte[] Page)> decoded) = Decode(file, s_ring);

        Assert.True(header.IsEncrypted);
        Assert.Equal(LtxConstants.HeaderFlagNoChecksum | LtxConstants.HeaderFlagEncrypted, header.Flags);
        Assert.Equal(s_key.KeyId, header.KeyId);
        Assert.NotEqual(UInt128.Zero, header.Salt);
        Assert.Equal(pages.Select(p => p.Pgno), decoded.Select(p => p.Pgno));
        Assert.All(pages.Zip(decoded), pair => Assert.Equal(pair.First.Page, pair.Second.Page));
        Assert.All(pages, p => Assert.True(file.AsSpan().IndexOf(p.Page.AsSpan(100, 32)) < 0, $"page {p.Pgno} readable in the file"));
    }

    [Fact]
    public void SameContentTwice_DifferentSalts_DifferentBytes()
    {
        byte[] a = Snapshot(s_key), b = Snapshot(s_key);
        Assert.NotEqual(Decode(a, s_ring).Header.Salt, Decode(b, s_ring).Header.Salt);
        Assert.NotEqual(a.AsSpan(LtxConstants.HeaderSize).ToArray(), b.AsSpan(LtxConstants.HeaderSize).ToArray());
        Assert.Equal(a.Length, b.Length);
    }

    [Fact]
    public void NoKey_RefusedNamingTheKeyId()
    {
        var error = Assert.Throws<LtxKeyMissingException>(() => Decode(Snapshot(s_key), keys: null));
        Assert.Equal($"encrypted with key id {LtxPageCipher.FormatKeyId(s_key.KeyId)} and no encryption key is configured", error.Message);
    }

    [Fact]
    public void WrongKey_RefusedListingTheConfiguredKeys()
    {
        var error = Assert.Throws<LtxKeyMissingException>(() => Decode(Snapshot(s_key), new LtxKeyRing(s_oldKey)));
        Assert.Equal($"encrypted with key id {LtxPageCipher.FormatKeyId(s_key.KeyId)}, configured keys: {LtxPageCipher.FormatKeyId(s_oldKey.KeyId)}", error.Message);
    }

    [Fact]
    public void PreviousKey_StillReads()
    {
        byte[] file = Snapshot(s_oldKey);
        Assert.Equal(20, Decode(file, new LtxKeyRing(s_key, s_oldKey)).Pages.Count);
    }

    [Fact]
    public void TamperedCiphertext_FailsAuthenticationOnThatPage()
    {
        byte[] file = Snapshot(s_key);
        LtxPageIndexEntry third = PageIndex(file).Single(e => e.Pgno == 3);
        file[third.Offset + third.Size - 20] ^= 0x01;
        var error = Assert.Throws<LtxAuthenticationException>(() => Decode(file, s_ring));
        Assert.Equal("page 3 failed authentication (wrong key or modified file)", error.Message);
    }

    [Fact]
    public void EditedHeaderField_FailsAuthentication_EvenWithTheFileChecksumRecomputed()
    {
        // A forger who rewrites the commit size and fixes the CRC still cannot make the pages verify.
        byte[] file = Snapshot(s_key);
        LtxHeader header = LtxHeader.Read(file) with { Timestamp = 1 };
        header.Write(file);
        Refresh(file);
        Assert.Throws<LtxAuthenticationException>(() => Decode(file, s_ring));
    }

    [Fact]
    public void PageRenumbered_FailsAuthentication()
    {
        // The page number is the nonce: a sealed page 3 presented as page 2 does not open.
        byte[] increment = Encode(LtxFileBuilder.Header(6, 6, 3), [(3, Pages(3)[2].Page)], s_key);
        LtxPageIndexEntry only = PageIndex(increment).Single();
        byte[] frame = increment.AsSpan((int)only.Offset, (int)only.Size).ToArray();
        BinaryPrimitives.WriteUInt32BigEndian(frame, 2);
        using LtxFileCipher cipher = s_key.ForFile(LtxHeader.Read(increment));
        var error = Assert.Throws<LtxAuthenticationException>(() => LtxDecoder.DecodePageData(frame, new byte[4096], cipher));
        Assert.Equal(2u, error.Pgno);

        BinaryPrimitives.WriteUInt32BigEndian(increment.AsSpan((int)only.Offset), 2);
        Assert.Throws<LtxAuthenticationException>(() => Decode(increment, s_ring));
    }

    [Fact]
    public void NodeIdRestamp_DoesNotBreakAuthentication()
    {
        byte[] file = Snapshot(s_key);
        LtxHeader header = LtxHeader.Read(file) with { NodeId = LtxNodeId.FromLeaseGeneration(9) };
        header.Write(file);
        Refresh(file);
        Assert.Equal(LtxNodeId.FromLeaseGeneration(9), Decode(file, s_ring).Header.NodeId);
    }

    [Fact]
    public void SingleFrames_OpenWithTheFileCipher()
    {
        List<(uint Pgno, byte[] Page)> pages = Pages(20);
        byte[] file = Snapshot(s_key);
        using LtxFileCipher cipher = s_key.ForFile(LtxHeader.Read(file));
        var page = new byte[4096];
        foreach (LtxPageIndexEntry entry in PageIndex(file))
        {
            LtxPageHeader ph = LtxDecoder.DecodePageData(file.AsSpan((int)entry.Offset, (int)entry.Size), page, cipher);
            Assert.Equal(pages[(int)ph.Pgno - 1].Page, page);
        }
        Assert.ThrowsAny<LtxFormatException>(() => LtxDecoder.DecodePageData(file.AsSpan((int)PageIndex(file)[0].Offset, (int)PageIndex(file)[0].Size), page));
    }

    [Fact]
    public void Segments_DecodeIndependently_AndVerify()
    {
        byte[] file = Snapshot(s_key, pages: 60);
        long indexOffset = LtxPageIndexReader.IndexOffset(file.AsSpan(file.Length - LtxPageIndexReader.FixedTailSize), file.Length);
        LtxFrameSegments plan = LtxFrameSegments.Read(file.AsSpan(0, LtxConstants.HeaderSize), new MemoryStream(file[(int)indexOffset..]), file.Length, 30_000);
        Assert.True(plan.Segments.Count > 1, $"{plan.Segments.Count} segments");
        var parts = new List<LtxSegmentChecksum>();
        var decoded = new List<(uint, byte[])>();
        foreach (LtxFrameSegment segment in plan.Segments)
        {
            using var decoder = new LtxSegmentDecoder(new MemoryStream(file[(int)segment.Offset..(int)segment.End]), plan.Header, segment, keys: s_ring);
            var buffer = new byte[4096];
            while (decoder.TryDecodePage(buffer, out LtxPageHeader ph))
            {
                decoded.Add((ph.Pgno, buffer.ToArray()));
            }
            parts.Add(decoder.Finish());
        }
        plan.Verify(parts);
        Assert.Equal(Decode(file, s_ring).Pages.Select(p => p.Page), decoded.Select(p => p.Item2));
        Assert.Throws<LtxKeyMissingException>(() => new LtxSegmentDecoder(new MemoryStream(), plan.Header, plan.Segments[0]));
    }

    [Fact]
    public void Compaction_ReadsOldKeyAndPlainInputs_WritesUnderTheCurrentKey()
    {
        List<(uint Pgno, byte[] Page)> pages = Pages(4);
        byte[] a = Encode(LtxFileBuilder.Header(1, 1, 4), pages, cipher: null);
        byte[] b = Encode(LtxFileBuilder.Header(2, 2, 4), [(2, pages[0].Page)], s_oldKey);
        byte[] c = Encode(LtxFileBuilder.Header(3, 3, 4), [(3, pages[1].Page)], s_key);
        var output = new MemoryStream();
        var ring = new LtxKeyRing(s_key, s_oldKey);
        LtxCompactor.Compact(output, [new MemoryStream(a), new MemoryStream(b), new MemoryStream(c)], new LtxCompactionOptions { Keys = ring });

        (LtxHeader header, List<(uint Pgno, byte[] Page)> merged) = Decode(output.ToArray(), s_ring);
        Assert.Equal((s_key.KeyId, true), (header.KeyId, header.IsEncrypted));
        Assert.Equal([pages[0].Page, pages[0].Page, pages[1].Page, pages[3].Page], merged.Select(p => p.Page));
    }

    [Fact]
    public void PlainAfterEncrypted_RefusedInTheChain()
    {
        byte[] a = Encode(LtxFileBuilder.Header(1, 1, 1), Pages(1), s_key);
        byte[] b = Encode(LtxFileBuilder.Header(2, 2, 1), Pages(1), cipher: null);
        var error = Assert.Throws<LtxFormatException>(() => LtxCompactor.Compact(new MemoryStream(), [new MemoryStream(a), new MemoryStream(b)], new LtxCompactionOptions { Keys = s_ring }));
        Assert.Equal("0000000000000002-0000000000000002 is not encrypted but follows encrypted 0000000000000001-0000000000000001: written by a replicator without the encryption key", error.Message);
    }

    [Fact]
    public void WithoutCompression_EveryFrameTheSameLength_TextAndRandomPagesAlike_AndTheyDecode()
    {
        List<(uint Pgno, byte[] Page)> pages = Pages(20); // odd pages random, even pages text that compresses well
        byte[] compressed = Snapshot(s_key);
        byte[] stored = Snapshot(s_key.WithoutCompression());

        Assert.True(s_key.CompressPages);
        Assert.False(s_key.WithoutCompression().CompressPages);
        Assert.Equal(s_key.KeyId, s_key.WithoutCompression().KeyId);
        Assert.True(PageIndex(compressed).Select(e => e.Size).Distinct().Count() > 1);
        // 6-byte page header, 4-byte size, 1 token + 17 length bytes (16 × 255 + 1 = 4096 - 15) + 4096 literals, 16-byte tag.
        Assert.All(PageIndex(stored), e => Assert.Equal(6 + 4 + 1 + 17 + 4096 + 16, e.Size));
        (_, List<(uint Pgno, byte[] Page)> decoded) = Decode(stored, s_ring);
        Assert.All(pages.Zip(decoded), pair => Assert.Equal(pair.First.Page, pair.Second.Page));
    }

    [Fact]
    public void Key_WrongLength_Refused()
    {
        var error = Assert.Throws<ArgumentException>(() => new LtxPageCipher(new byte[16]));
        Assert.StartsWith("an encryption key is 32 bytes, this one is 16", error.Message, StringComparison.Ordinal);
    }

    private static IReadOnlyList<LtxPageIndexEntry> PageIndex(byte[] file)
    {
        using var decoder = new LtxDecoder(new MemoryStream(file)) { Keys = new LtxKeyRing(s_key, s_oldKey) };
        decoder.Close();
        return decoder.PageIndex.Entries;
    }

    /// <summary>Recomputes the file checksum after an edit, as a forger would.</summary>
    private static void Refresh(byte[] file)
    {
        // The checksum covers the header and the stored frames of an encrypted file: recompute it over the bytes.
        ulong crc = Checksums.Crc64Iso.Update(0, file.AsSpan(0, file.Length - 8));
        BinaryPrimitives.WriteUInt64BigEndian(file.AsSpan(file.Length - 8), LtxConstants.ChecksumFlag | crc);
    }
}
