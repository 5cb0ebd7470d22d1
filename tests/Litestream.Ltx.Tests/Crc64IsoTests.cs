using System.Text;
using Litestream.Ltx.Checksums;

namespace Litestream.Ltx.Tests;

public class Crc64IsoTests
{
    [Fact]
    public void Compute_CheckString_GoIsoCheckValue()
        => Assert.Equal(0xB90956C775A41001UL, Crc64Iso.Compute("123456789"u8));

    [Fact]
    public void Compute_Empty_Zero() => Assert.Equal(0UL, Crc64Iso.Compute([]));

    [Fact]
    public void Update_Chunks_EqualsOneShot()
    {
        byte[] data = Encoding.ASCII.GetBytes(new string('q', 1000));
        ulong crc = Crc64Iso.Update(Crc64Iso.Compute(data.AsSpan(0, 333)), data.AsSpan(333));
        Assert.Equal(Crc64Iso.Compute(data), crc);
    }

    [Fact]
    public void Compute_RandomLengthsAndAlignments_EqualsScalarOracle()
        => Assert.Null(Crc64Differential.DispatchedVersusOracle(20261123, 600));

    [Fact]
    public void VectorizedFold_RandomBlocksAndStates_EqualsScalarOracle()
    {
        if (!Crc64Iso.Vectorized.IsSupported)
        {
            // Hardware intrinsics are off (the CI's DOTNET_EnableHWIntrinsic=0 run) or absent: the
            // dispatcher must then never choose the kernel, which Compute_RandomLengths… covers.
            Assert.Equal("none", Crc64Iso.Vectorized.Kernel);
            Assert.False(System.Runtime.Intrinsics.X86.Pclmulqdq.IsSupported);
            return;
        }
        Assert.Null(Crc64Differential.FoldVersusTable(42, 400));
    }

    [Fact]
    public void Combine_RandomSplits_EqualsScalarOracleOfTheConcatenation()
    {
        var random = new Random(20261202);
        byte[] data = new byte[70_000];
        random.NextBytes(data);
        for (int i = 0; i < 200; i++)
        {
            int start = random.Next(0, 64);
            int length = i < 10 ? i : random.Next(0, data.Length - start);
            int split = random.Next(0, length + 1);
            ReadOnlySpan<byte> whole = data.AsSpan(start, length);
            ulong combined = Crc64Iso.Combine(Crc64Iso.Compute(whole[..split]), Crc64Iso.Compute(whole[split..]), length - split);
            Assert.Equal(Crc64Iso.UpdateScalar(0, whole), combined);
        }
    }

    [Fact]
    public void Combine_ManyParts_EqualsOneShot()
    {
        byte[] data = new byte[3 << 20];
        new Random(3).NextBytes(data);
        ulong crc = 0;
        for (int offset = 0; offset < data.Length; offset += 65_537)
        {
            int n = Math.Min(65_537, data.Length - offset);
            crc = Crc64Iso.Combine(crc, Crc64Iso.Compute(data.AsSpan(offset, n)), n);
        }
        Assert.Equal(Crc64Iso.Compute(data), crc);
        Assert.Equal(0x1234UL, Crc64Iso.Combine(0x1234, 0, 0));
    }

    [Fact]
    public void UpdateTable_EqualsScalarOracle()
    {
        var random = new Random(8);
        byte[] data = new byte[5000];
        random.NextBytes(data);
        for (int length = 0; length < 300; length++)
        {
            Assert.Equal(Crc64Iso.UpdateScalar(0, data.AsSpan(length, length)), ~Crc64Iso.UpdateTable(ulong.MaxValue, data.AsSpan(length, length)));
        }
    }

    [Fact]
    public void PageChecksum_Vectors_C3aC3b()
    {
        Assert.Equal(0xe0d53ff6f3d08215UL, PageChecksum.Compute(1, Enumerable.Repeat((byte)'2', 1024).ToArray()));
        Assert.Equal(0x815ca49babaa28bfUL, PageChecksum.Compute(2, Enumerable.Repeat((byte)'3', 1024).ToArray()));
    }

    [Theory]
    [InlineData(512, "010203", 0xefffffffecd99000UL)]
    [InlineData(1024, "3233", 0xe1899b6d587aaaaaUL)]
    [InlineData(512, "3233", 0x8b87423eeeeeeeeeUL)]
    [InlineData(1024, "3234", 0x95c99b6c1d2fffffUL)]
    public void DatabaseChecksum_Vectors(int pageSize, string pageBytes, ulong expected)
    {
        byte[] fill = Convert.FromHexString(pageBytes);
        byte[] db = fill.SelectMany(b => Enumerable.Repeat(b, pageSize)).ToArray();
        Assert.Equal(expected, DatabaseChecksum.Compute(db, (uint)pageSize));
    }

    [Fact]
    public void DatabaseChecksum_Empty_IsFlag() => Assert.Equal(LtxConstants.ChecksumFlag, new DatabaseChecksum().Value);
}
