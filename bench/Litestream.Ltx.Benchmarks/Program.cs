using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using Litestream.Ltx.Checksums;
using Litestream.Ltx.Wal;
using Microsoft.Win32.SafeHandles;

namespace Litestream.Ltx.Benchmarks;

/// <summary>Format-library micro-benchmarks: CRC-64 scalar vs SIMD, LTX encode/decode plain and encrypted, page seal/open, WAL scan.</summary>
public static class Program
{
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);

    internal static byte[] Pages(int count, bool textLike)
    {
        var random = new Random(1);
        byte[] data = new byte[count * 4096];
        if (textLike)
        {
            const string words = "litestream replica sqlite page wal checkpoint snapshot level the of and ";
            for (int i = 0; i < data.Length; i++)
            {
                data[i] = (byte)words[random.Next(0, words.Length)];
            }
        }
        else
        {
            random.NextBytes(data);
        }
        return data;
    }
}

[MemoryDiagnoser]
public class Crc64Benchmarks
{
    private byte[] _data = [];

    [Params(4096, 1 << 20)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup() => _data = Program.Pages(Math.Max(1, Size / 4096), false).AsSpan(0, Size).ToArray();

    [Benchmark(Baseline = true)]
    public ulong Scalar() => Crc64Iso.UpdateScalar(0, _data);

    [Benchmark]
    public ulong SlicingBy8() => ~Crc64Iso.UpdateTable(ulong.MaxValue, _data);

    [Benchmark]
    public ulong Dispatched() => Crc64Iso.Compute(_data);
}

[MemoryDiagnoser]
public class LtxBenchmarks
{
    private const int PageCount = 4096;
    private byte[] _pages = [];
    private byte[] _file = [];
    private readonly MemoryStream _output = new(64 << 20);
    private readonly byte[] _page = new byte[4096];

    [Params(false, true)]
    public bool TextLike { get; set; }

    /// <summary>Pages sealed with AES-256-GCM (docs/ENCRYPTION.md) vs plain.</summary>
    [Params(false, true)]
    public bool Encrypted { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _pages = Program.Pages(PageCount, TextLike);
        Encode();
        _file = _output.ToArray();
    }

    [Benchmark]
    public long Encode()
    {
        _output.Position = 0;
        _output.SetLength(0);
        using var encoder = new LtxEncoder(_output, leaveOpen: true) { Cipher = Encrypted ? PageCipherBenchmarks.Key : null };
        encoder.EncodeHeader(new LtxHeader { Flags = LtxConstants.HeaderFlagNoChecksum, PageSize = 4096, Commit = PageCount, MinTxid = new Txid(1), MaxTxid = new Txid(1), Timestamp = 1 });
        for (int i = 0; i < PageCount; i++)
        {
            encoder.EncodePage((uint)(i + 1), _pages.AsSpan(i * 4096, 4096));
        }
        encoder.Close(0);
        return encoder.BytesWritten;
    }

    [Benchmark]
    public int Decode()
    {
        using var decoder = new LtxDecoder(new MemoryStream(_file, writable: false)) { Keys = PageCipherBenchmarks.Keys };
        decoder.DecodeHeader();
        int pages = 0;
        while (decoder.TryDecodePage(_page, out _))
        {
            pages++;
        }
        decoder.Close();
        return pages;
    }
}

/// <summary>AES-256-GCM on one 4 KiB page, as the encoder seals and a VFS read opens it: bytes per second per core.</summary>
[MemoryDiagnoser]
public class PageCipherBenchmarks
{
    internal static readonly LtxPageCipher Key = new(Enumerable.Range(0, LtxPageCipher.KeySize).Select(i => (byte)i).ToArray());
    internal static readonly LtxKeyRing Keys = new(Key);
    private readonly byte[] _page = Program.Pages(1, true);
    private readonly byte[] _sealed = new byte[4096 + LtxConstants.PageTagSize];
    private readonly byte[] _opened = new byte[4096];
    private LtxFileCipher? _file;

    [GlobalSetup]
    public void Setup()
    {
        var header = new LtxHeader { Flags = LtxConstants.HeaderFlagNoChecksum | LtxConstants.HeaderFlagEncrypted, PageSize = 4096, Commit = 1, MinTxid = new Txid(1), MaxTxid = new Txid(1), Timestamp = 1, Salt = 7, KeyId = Key.KeyId };
        _file = Key.ForFile(header);
        _file.Seal(1, _page, _sealed);
    }

    [GlobalCleanup]
    public void Cleanup() => _file?.Dispose();

    [Benchmark]
    public void Seal() => _file!.Seal(1, _page, _sealed);

    [Benchmark]
    public int Open() => _file!.Open(1, _sealed, _opened);
}

public class WalScanBenchmarks
{
    private string _path = "";
    private SafeFileHandle? _handle;

    [GlobalSetup]
    public void Setup()
    {
        // A valid 4096-frame WAL (16 MiB) with a commit every 8 frames.
        _path = Path.Combine(Path.GetTempPath(), $"bench-{Environment.ProcessId}.wal");
        byte[] pages = Program.Pages(4096, true);
        using (FileStream f = File.Create(_path))
        {
            byte[] header = new byte[32];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(header, WalHeader.MagicLittleEndian);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(4), WalHeader.SupportedVersion);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(8), 4096);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(16), 1);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(20), 2);
            (uint s0, uint s1) = WalChecksum.Compute(false, 0, 0, header.AsSpan(0, 24));
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(24), s0);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(28), s1);
            f.Write(header);
            byte[] frame = new byte[24];
            for (int i = 0; i < 4096; i++)
            {
                System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(frame, (uint)(i % 512) + 1);
                System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(4), i % 8 == 7 ? 512u : 0u);
                System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(8), 1);
                System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(12), 2);
                (s0, s1) = WalChecksum.Compute(false, s0, s1, frame.AsSpan(0, 8));
                (s0, s1) = WalChecksum.Compute(false, s0, s1, pages.AsSpan(i * 4096, 4096));
                System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(16), s0);
                System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(20), s1);
                f.Write(frame);
                f.Write(pages.AsSpan(i * 4096, 4096));
            }
        }
        _handle = File.OpenHandle(_path);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _handle?.Dispose();
        File.Delete(_path);
    }

    [Benchmark]
    public long ReadPageMap()
    {
        using WalReader reader = WalReader.Open(_handle!)!;
        return reader.ReadPageMap().MaxOffset;
    }
}
