using System.Text.Json;
using Litestream.Ltx.Checksums;
using Litestream.Ltx.Tests.Fixtures;

namespace Litestream.Ltx.Tests;

/// <summary>
/// Second opinion from ../shared/spec/tools/ltx_ref.py, written independently from the Go sources: it
/// decodes what our encoder writes (pages, index, checksums must agree), and it writes files in both page
/// encodings (liblz4 blocks and frames) that our decoder must read back page for page.
/// </summary>
public sealed class LtxReferenceToolTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ltx-ref-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private const string DecodeScript = """
        import json, sys
        sys.path.insert(0, sys.argv[1])
        import ltx_ref
        d = ltx_ref.decode_ltx(open(sys.argv[2], 'rb').read())
        print(json.dumps({
            'pages': [[pgno, flags, '%016x' % ltx_ref.checksum_page(pgno, page)] for pgno, flags, page in d['pages']],
            'index': d['index'],
            'frames': [[f['pgno'], f['offset'], f['size'], f['encoding']] for f in d['frames']],
            'post': '%016x' % d['post_apply_checksum'],
            'file': '%016x' % d['file_checksum'],
            'calc': '%016x' % d['calc_file_checksum'],
            'header': {k: v for k, v in d['header'].items() if k != 'magic'},
        }))
        """;

    private const string EncodeScript = """
        import sys
        sys.path.insert(0, sys.argv[1])
        import ltx_ref
        out, raw, ps, enc, commit, mn, mx = sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], int(sys.argv[6]), int(sys.argv[7]), int(sys.argv[8])
        pgnos = [int(p) for p in sys.argv[9].split(',')]
        data = open(raw, 'rb').read()
        pages = [(p, data[i * ps:(i + 1) * ps]) for i, p in enumerate(pgnos)]
        h = {'flags': 2, 'page_size': ps, 'commit': commit, 'min_txid': mn, 'max_txid': mx, 'timestamp': 1234}
        if enc == 'frame-linked':
            ltx_ref.lz4_frame_compress.__defaults__ = (4, False, False)
            enc = 'frame'
        open(out, 'wb').write(ltx_ref.encode_ltx(h, pages, 0, page_encoding=enc))
        """;

    private static string Python(string script, params string[] args)
        => Testing.Python.Run(script, [Path.GetDirectoryName(Prerequisites.ReferenceTool)!, .. args]);

    [RequiresFact(Need.ReferenceTool)]
    public void Encode_ReferenceDecoder_AgreesOnPagesIndexAndChecksums()
    {
        var random = new Random(11);
        var pages = Enumerable.Range(1, 20).Select(i => ((uint)i, LtxFileBuilder.RandomPage(random, 4096, i % 2 == 0))).ToList();
        LtxHeader header = LtxFileBuilder.Header(1, 5, 20) with { WalOffset = 32, WalSize = 4120 * 20, WalSalt1 = 7, WalSalt2 = 9 };
        byte[] file = LtxFileBuilder.Build(header, pages);
        string path = Path.Combine(_dir, "ours.ltx");
        File.WriteAllBytes(path, file);

        using JsonDocument dump = JsonDocument.Parse(Python(DecodeScript, path));
        JsonElement root = dump.RootElement;
        using var decoder = new LtxDecoder(new MemoryStream(file));
        LtxTrailer trailer = decoder.Close();

        Assert.Equal(pages.Select(p => $"{p.Item1}:1:{PageChecksum.Compute(p.Item1, p.Item2):x16}"),
            root.GetProperty("pages").EnumerateArray().Select(e => $"{e[0]}:{e[1]}:{e[2].GetString()}"));
        Assert.Equal(decoder.PageIndex.Entries.Select(e => $"{e.Pgno},{e.Offset},{e.Size}"),
            root.GetProperty("index").EnumerateArray().Select(e => $"{e[0]},{e[1]},{e[2]}"));
        Assert.All(root.GetProperty("frames").EnumerateArray(), f => Assert.Equal("lz4-block", f[3].GetString()));
        Assert.Equal($"{trailer.FileChecksum:x16}", root.GetProperty("file").GetString());
        Assert.Equal($"{trailer.FileChecksum:x16}", root.GetProperty("calc").GetString());
        Assert.Equal("0000000000000000", root.GetProperty("post").GetString());
        JsonElement h = root.GetProperty("header");
        Assert.Equal((2, 4096, 20, 1, 5, 32, 82400, 7, 9),
            (h.GetProperty("flags").GetInt32(), h.GetProperty("page_size").GetInt32(), h.GetProperty("commit").GetInt32(),
             h.GetProperty("min_txid").GetInt32(), h.GetProperty("max_txid").GetInt32(), h.GetProperty("wal_offset").GetInt32(),
             h.GetProperty("wal_size").GetInt32(), h.GetProperty("wal_salt1").GetInt32(), h.GetProperty("wal_salt2").GetInt32()));
    }

    [RequiresFact(Need.ReferenceTool)]
    public void Decode_ReferenceEncodedFiles_BothEncodingsAllPageSizes()
    {
        var random = new Random(5);
        foreach (uint pageSize in new uint[] { 512, 4096, 65536 })
        {
            foreach (string encoding in new[] { "block", "frame", "frame-linked" })
            {
                uint[] pgnos = [2, 3, 7, 40];
                byte[][] pages = pgnos.Select((_, i) => LtxFileBuilder.RandomPage(random, pageSize, i % 2 == 0)).ToArray();
                string raw = Path.Combine(_dir, "pages.raw"), path = Path.Combine(_dir, $"ref-{pageSize}-{encoding}.ltx");
                File.WriteAllBytes(raw, pages.SelectMany(p => p).ToArray());
                Python(EncodeScript, path, raw, pageSize.ToString(), encoding, "50", "3", "4", string.Join(',', pgnos));

                using var decoder = new LtxDecoder(File.OpenRead(path));
                LtxHeader header = decoder.DecodeHeader();
                Assert.Equal((pageSize, 50u, new Txid(3), new Txid(4)), (header.PageSize, header.Commit, header.MinTxid, header.MaxTxid));
                var page = new byte[pageSize];
                for (int i = 0; i < pgnos.Length; i++)
                {
                    Assert.True(decoder.TryDecodePage(page, out LtxPageHeader ph));
                    Assert.Equal(encoding == "block", ph.HasSizePrefix);
                    Assert.Equal(pgnos[i], ph.Pgno);
                    Assert.True(pages[i].AsSpan().SequenceEqual(page), $"page {pgnos[i]} of {path}");
                }
                Assert.False(decoder.TryDecodePage(page, out _));
                decoder.Close();

                // The same frames through the page index, one ranged read each.
                using SafeFileHandleScope file = new(path);
                LtxPageIndex index = LtxRandomAccess.ReadPageIndex(file.Handle);
                for (int i = 0; i < pgnos.Length; i++)
                {
                    Assert.True(index.TryGet(pgnos[i], out LtxPageIndexEntry entry));
                    LtxRandomAccess.ReadPage(file.Handle, entry, page);
                    Assert.True(pages[i].AsSpan().SequenceEqual(page));
                }
            }
        }
    }

    private sealed class SafeFileHandleScope(string path) : IDisposable
    {
        public Microsoft.Win32.SafeHandles.SafeFileHandle Handle { get; } = File.OpenHandle(path);

        public void Dispose() => Handle.Dispose();
    }
}
