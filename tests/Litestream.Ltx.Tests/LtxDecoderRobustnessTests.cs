using Litestream.Ltx.Tests.Fixtures;

namespace Litestream.Ltx.Tests;

/// <summary>
/// Hostile input: every truncation and thousands of seeded bit flips of real fixtures must end in
/// LtxFormatException (or its checksum subclass) — never IndexOutOfRange, NullReference,
/// OutOfMemory or a hang — and a flip the checksums cannot see must decode to exactly the original.
/// </summary>
public class LtxDecoderRobustnessTests
{
    public static TheoryData<string> Fixtures() =>
    [
        "synthetic/ltx/decoder-spec-block.ltx",
        "synthetic/ltx/decoder-spec-frame.ltx",
        "synthetic/ltx/incremental-checksummed.ltx",
        "synthetic/replica-file/ltx/0/0000000000000001-0000000000000001.ltx",
    ];

    private static string DecodeFully(byte[] file)
    {
        using var decoder = new LtxDecoder(new MemoryStream(file));
        LtxHeader header = decoder.DecodeHeader();
        var page = new byte[header.PageSize];
        var content = new System.Text.StringBuilder(header.ToString());
        while (decoder.TryDecodePage(page, out LtxPageHeader ph))
        {
            content.Append(ph.Pgno).Append(':').Append(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(page)));
        }
        return content.Append(decoder.Close()).ToString();
    }

    [RequiresTheory(Need.Spec)]
    [MemberData(nameof(Fixtures))]
    public void Decode_TruncatedAtEveryOffset_OnlyFormatErrors(string fixture)
    {
        byte[] file = File.ReadAllBytes(TestRepo.SpecFile(fixture));
        for (int length = 0; length < file.Length; length++)
        {
            var error = Assert.ThrowsAny<LtxFormatException>(() => DecodeFully(file[..length]));
            Assert.False(string.IsNullOrEmpty(error.Message));
        }
    }

    [RequiresTheory(Need.Spec)]
    [MemberData(nameof(Fixtures))]
    public void Decode_RandomBitFlips_DetectedAsFormatErrors(string fixture)
    {
        byte[] original = File.ReadAllBytes(TestRepo.SpecFile(fixture));
        string expected = DecodeFully(original);
        var random = new Random(fixture.Length * 7919);
        for (int i = 0; i < 2000; i++)
        {
            byte[] file = (byte[])original.Clone();
            int position = random.Next(0, file.Length);
            file[position] ^= (byte)(1 << random.Next(0, 8));
            string? decoded = null;
            try
            {
                decoded = DecodeFully(file);
            }
            catch (LtxFormatException)
            {
                continue;
            }
            // A flip the checksum cannot see must be one that changes nothing decoded: an LZ4 match offset
            // that still copies the same bytes, or an LZ4 frame's own xxHash (LTX.md §5.3).
            Assert.Equal(expected, decoded);
        }
    }

    [Fact]
    public void Decode_HugeCompressedSizePrefix_RejectedBeforeAllocating()
    {
        byte[] file = LtxFileBuilder.Build(LtxFileBuilder.Header(1, 1, 1, 512), [(1, new byte[512])]);
        // The size prefix follows the 6-byte page header at offset 100.
        file[106] = 0x7f;
        var error = Assert.Throws<LtxFormatException>(() => DecodeFully(file));
        Assert.StartsWith("invalid compressed size ", error.Message);
    }
}
