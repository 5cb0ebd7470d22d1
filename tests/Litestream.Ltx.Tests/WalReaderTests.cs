using Litestream.Ltx.Checksums;
using Litestream.Ltx.Tests.Fixtures;
using Litestream.Ltx.Wal;
using Microsoft.Win32.SafeHandles;

namespace Litestream.Ltx.Tests;

public class WalReaderTests
{
    private static SafeFileHandle OpenFixture(string name)
        => File.OpenHandle(SharedSpec.File($"litestream-63225f1/testdata/wal-reader/{name}/wal"));

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

    [SpecFact]
    public void TryReadFrame_Ok_ThreeFramesAtUpstreamOffsets()
    {
        using SafeFileHandle handle = OpenFixture("ok");
        using WalReader reader = WalReader.Open(handle)!;
        Assert.Equal(4096u, reader.PageSize);
        Assert.Equal(0x4875a40bu, reader.Header.Salt1);
        Assert.Equal(0xa38de4f5u, reader.Header.Salt2);
        Assert.Equal([(1u, 0u, 32L), (2u, 2u, 4152L), (2u, 2u, 8272L)], ReadAll(reader));
    }

    [SpecTheory]
    [InlineData("salt-mismatch")]
    [InlineData("frame-checksum-mismatch")]
    public void TryReadFrame_BrokenSecondFrame_EndsIterationAfterFirst(string fixture)
    {
        using SafeFileHandle handle = OpenFixture(fixture);
        using WalReader reader = WalReader.Open(handle)!;
        Assert.Equal([(1u, 0u, 32L)], ReadAll(reader));
    }

    [SpecFact]
    public void FrameSaltsUntil_FrameSalts_ThreeDistinctSalts()
    {
        using SafeFileHandle handle = OpenFixture("frame-salts");
        using WalReader reader = WalReader.Open(handle)!;
        Assert.Equal([(0x1b9a294bu, 0x37f91916u), (0x1b9a294au, 0x031f195eu), (0x1b9a2949u, 0x13b3dd67u)], reader.FrameSaltsUntil((0, 0)));
    }

    [SpecFact]
    public void ReadPageMap_Ok_LatestCommittedCopyOfPage2()
    {
        using SafeFileHandle handle = OpenFixture("ok");
        using WalReader reader = WalReader.Open(handle)!;
        WalPageMap map = reader.ReadPageMap();
        Assert.Equal(2u, map.Commit);
        Assert.Equal(8272L + 24 + 4096, map.MaxOffset);
        Assert.Equal(new Dictionary<uint, long> { [1] = 32, [2] = 8272 }, map.Pages);
    }

    [SpecFact]
    public void OpenAt_SecondFrame_ContinuesChecksumChain()
    {
        using SafeFileHandle handle = OpenFixture("ok");
        using WalReader reader = WalReader.OpenAt(handle, 4152, 0x4875a40b, 0xa38de4f5)!;
        Assert.Equal([(2u, 2u, 4152L), (2u, 2u, 8272L)], ReadAll(reader));
    }

    [SpecFact]
    public void OpenAt_WrongSalts_ThrowsPrevFrameMismatch()
    {
        using SafeFileHandle handle = OpenFixture("ok");
        Assert.Throws<WalPrevFrameMismatchException>(() => WalReader.OpenAt(handle, 4152, 1, 2));
    }

    [Fact]
    public void Open_BigEndianVersion1_Unsupported()
    {
        byte[] header = new byte[32];
        new byte[] { 0x37, 0x7f, 0x06, 0x83, 0, 0, 0, 1 }.CopyTo(header, 0);
        Assert.Equal((0x157b2092u, 0xbbf8341du), WalChecksum.Compute(true, 0, 0, header.AsSpan(0, 24)));
        string path = Path.GetTempFileName();
        File.WriteAllBytes(path, header);
        using SafeFileHandle handle = File.OpenHandle(path);
        var error = Assert.Throws<InvalidDataException>(() => WalReader.Open(handle));
        Assert.Equal("unsupported wal version: 1", error.Message);
    }

    [Fact]
    public void Open_ZeroHeader_InvalidMagic()
    {
        string path = Path.GetTempFileName();
        File.WriteAllBytes(path, new byte[32]);
        using SafeFileHandle handle = File.OpenHandle(path);
        Assert.Equal("invalid wal header magic: 0", Assert.Throws<InvalidDataException>(() => WalReader.Open(handle)).Message);
    }

    [Fact]
    public void Open_TenBytes_NoWal()
    {
        string path = Path.GetTempFileName();
        File.WriteAllBytes(path, new byte[10]);
        using SafeFileHandle handle = File.OpenHandle(path);
        Assert.Null(WalReader.Open(handle));
    }

    [Fact]
    public void WalChecksum_HeaderVectorW1()
    {
        byte[] header = Convert.FromHexString("377f0682002de218000010000000000052382eac857b1a4e");
        Assert.Equal((0x81153b65u, 0x87178e8fu), WalChecksum.Compute(false, 0, 0, header));
    }
}
