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
