namespace Litestream.Ltx.Tests.Fixtures;

/// <summary>Builds LTX files in memory for tests (the analogue of ltx's FileSpec).</summary>
internal static class LtxFileBuilder
{
    public static byte[] Page(uint pageSize, byte fill) => Enumerable.Repeat(fill, (int)pageSize).ToArray();

    public static byte[] RandomPage(Random random, uint pageSize, bool textLike)
    {
        byte[] page = new byte[pageSize];
        if (textLike)
        {
            const string words = "litestream replica sqlite page wal checkpoint snapshot level ";
            for (int i = 0; i < page.Length; i++)
            {
                page[i] = (byte)words[(i + random.Next(0, 3)) % words.Length];
            }
        }
        else
        {
            random.NextBytes(page);
        }
        return page;
    }

    public static byte[] Build(LtxHeader header, IEnumerable<(uint Pgno, byte[] Page)> pages, ulong postApplyChecksum = 0)
    {
        var output = new MemoryStream();
        using (var encoder = new LtxEncoder(output, leaveOpen: true))
        {
            encoder.EncodeHeader(header);
            foreach ((uint pgno, byte[] page) in pages)
            {
                encoder.EncodePage(pgno, page);
            }
            encoder.Close(postApplyChecksum);
        }
        return output.ToArray();
    }

    /// <summary>
    /// Writes an LTX file exactly as given, checking no format rule (a snapshot missing pages, a Commit past
    /// every page): what a buggy or hostile writer could upload. Pages are stored as literal-only LZ4 blocks and
    /// the file checksum is computed as for a good file, so only the format rules can catch it.
    /// </summary>
    public static byte[] BuildUnchecked(LtxHeader header, IEnumerable<(uint Pgno, byte[] Page)> pages, ulong postApplyChecksum = 0)
    {
        var output = new MemoryStream();
        ulong crc = 0;
        byte[] head = new byte[LtxHeader.Size];
        header.Write(head);
        output.Write(head);
        crc = Checksums.Crc64Iso.Update(crc, head);
        var index = new List<LtxPageIndexEntry>();
        foreach ((uint pgno, byte[] page) in pages)
        {
            byte[] block = LiteralBlock(page);
            byte[] prefix = new byte[LtxConstants.PageHeaderSize + LtxConstants.PageSizePrefixSize];
            new LtxPageHeader(pgno, LtxConstants.PageHeaderFlagSize).Write(prefix);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(prefix.AsSpan(LtxConstants.PageHeaderSize), (uint)block.Length);
            index.Add(new LtxPageIndexEntry(pgno, output.Length, prefix.Length + block.Length));
            output.Write(prefix);
            output.Write(block);
            // The checksum covers the page header, the size prefix and the uncompressed page (LTX.md §5.3).
            crc = Checksums.Crc64Iso.Update(Checksums.Crc64Iso.Update(crc, prefix), page);
        }
        byte[] endMarker = new byte[LtxConstants.PageHeaderSize];
        output.Write(endMarker);
        crc = Checksums.Crc64Iso.Update(crc, endMarker);
        byte[] indexBytes = new byte[LtxPageIndex.EncodedLength(index.ToArray()) + LtxConstants.PageIndexSizeFieldSize];
        int written = LtxPageIndex.Write(index.ToArray(), indexBytes);
        output.Write(indexBytes, 0, written);
        crc = Checksums.Crc64Iso.Update(crc, indexBytes.AsSpan(0, written));
        byte[] trailer = new byte[LtxConstants.TrailerSize];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(trailer, postApplyChecksum);
        crc = Checksums.Crc64Iso.Update(crc, trailer.AsSpan(0, 8));
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(trailer.AsSpan(8), LtxConstants.ChecksumFlag | crc);
        output.Write(trailer);
        return output.ToArray();
    }

    /// <summary>An LZ4 block holding <paramref name="data"/> as one literal run (a valid block any decoder reads).</summary>
    private static byte[] LiteralBlock(byte[] data)
    {
        var block = new List<byte> { (byte)(Math.Min(data.Length, 15) << 4) };
        if (data.Length >= 15)
        {
            int rest = data.Length - 15;
            for (; rest >= 255; rest -= 255)
            {
                block.Add(255);
            }
            block.Add((byte)rest);
        }
        block.AddRange(data);
        return [.. block];
    }

    /// <summary>The header and pages of a valid file.</summary>
    public static (LtxHeader Header, List<(uint Pgno, byte[] Page)> Pages) Decode(byte[] file)
    {
        using var decoder = new LtxDecoder(new MemoryStream(file));
        LtxHeader header = decoder.DecodeHeader();
        var pages = new List<(uint, byte[])>();
        byte[] page = new byte[header.PageSize];
        while (decoder.TryDecodePage(page, out LtxPageHeader ph))
        {
            pages.Add((ph.Pgno, page.ToArray()));
        }
        decoder.Close();
        return (header, pages);
    }

    public static LtxHeader Header(ulong min, ulong max, uint commit, uint pageSize = 4096, long timestamp = 1700000000000)
        => new()
        {
            Flags = LtxConstants.HeaderFlagNoChecksum,
            PageSize = pageSize,
            Commit = commit,
            MinTxid = new Txid(min),
            MaxTxid = new Txid(max),
            Timestamp = timestamp,
        };
}
