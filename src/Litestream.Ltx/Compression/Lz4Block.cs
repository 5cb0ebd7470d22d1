using System.Buffers.Binary;
using K4os.Compression.LZ4;

namespace Litestream.Ltx.Compression;

/// <summary>
/// The two page payload encodings of LTX v3 (LTX.md §3): one raw LZ4 block (current), and one whole
/// LZ4 frame per page (ltx v0.5.0–v0.5.1, Litestream v0.5.0–v0.5.15), parsed generically.
/// </summary>
internal static class Lz4Block
{
    /// <summary>LZ4 frame magic number, little-endian on disk (04 22 4D 18).</summary>
    public const uint FrameMagic = 0x184D2204;

    /// <summary>Worst-case size of one compressed page (LZ4_compressBound).</summary>
    public static int MaxCompressedLength(int pageSize) => LZ4Codec.MaximumOutputSize(pageSize);

    /// <summary>Compresses a page into one LZ4 block; returns the compressed length.</summary>
    public static int Compress(ReadOnlySpan<byte> page, Span<byte> destination)
    {
        int n = LZ4Codec.Encode(page, destination, LZ4Level.L00_FAST);
        if (n <= 0)
        {
            throw new InvalidOperationException($"lz4 compression failed for a {page.Length}-byte page");
        }
        return n;
    }

    /// <summary>
    /// Stores a page as one LZ4 block of literals only (a token of literal length 15, the length's extension bytes,
    /// the page): valid LZ4 that every reader decodes, no smaller than the page, and of the same length for every page
    /// of a size, so the stored length says nothing about the content (<c>encryption.compress: false</c>).
    /// </summary>
    public static int StoreLiterals(ReadOnlySpan<byte> page, Span<byte> destination)
    {
        int rest = page.Length - 15;
        int n = 0;
        destination[n++] = 0xF0;
        for (; rest >= 255; rest -= 255)
        {
            destination[n++] = 255;
        }
        destination[n++] = (byte)rest;
        page.CopyTo(destination[n..]);
        return n + page.Length;
    }

    /// <summary>Decodes one LZ4 block that must expand to exactly <paramref name="page"/>.Length bytes.</summary>
    public static void DecompressPage(ReadOnlySpan<byte> block, Span<byte> page, uint pgno)
    {
        int n = LZ4Codec.Decode(block, page);
        if (n != page.Length)
        {
            LtxThrow.Format(n < 0
                ? $"corrupt lz4 block for page {pgno}"
                : $"lz4 block for page {pgno} decodes to {n} bytes, expected {page.Length}");
        }
    }

    /// <summary>
    /// Length of the LZ4 frame header given its first 6 bytes (magic, FLG, BD): 7, plus 8 with a
    /// content size, plus 4 with a dictionary id. Validates magic and version.
    /// </summary>
    public static int FrameHeaderLength(ReadOnlySpan<byte> start, uint pgno)
    {
        if (BinaryPrimitives.ReadUInt32LittleEndian(start) != FrameMagic)
        {
            LtxThrow.Format($"invalid lz4 frame magic for page {pgno}: 0x{BinaryPrimitives.ReadUInt32LittleEndian(start):x8}");
        }
        byte flg = start[4];
        if ((flg >> 6) != 1)
        {
            LtxThrow.Format($"unsupported lz4 frame version for page {pgno}: flg 0x{flg:x2}");
        }
        return 7 + ((flg & 0x08) != 0 ? 8 : 0) + ((flg & 0x01) != 0 ? 4 : 0);
    }

    /// <summary>True when the frame's FLG says every block carries a 4-byte checksum.</summary>
    public static bool HasBlockChecksums(byte flg) => (flg & 0x10) != 0;

    /// <summary>True when the frame's FLG says a 4-byte content checksum follows the end mark.</summary>
    public static bool HasContentChecksum(byte flg) => (flg & 0x04) != 0;

    /// <summary>
    /// Decodes a complete legacy LZ4 frame (header, blocks, end mark, optional checksums) into a page.
    /// Blocks may be linked (a block references the output of earlier ones) or independent; both are
    /// decoded against the page written so far. xxHash checksums are not verified: the LTX file
    /// checksum covers the uncompressed page. Returns the frame length consumed.
    /// </summary>
    public static int DecodeFrame(ReadOnlySpan<byte> frame, Span<byte> page, uint pgno)
    {
        if (frame.Length < 7)
        {
            LtxThrow.Format($"truncated lz4 frame for page {pgno}");
        }
        int pos = FrameHeaderLength(frame, pgno);
        byte flg = frame[4];
        int written = 0;
        while (true)
        {
            if (frame.Length - pos < 4)
            {
                LtxThrow.Format($"truncated lz4 frame for page {pgno}");
            }
            uint raw = BinaryPrimitives.ReadUInt32LittleEndian(frame[pos..]);
            pos += 4;
            if (raw == 0)
            {
                break;
            }
            int size = (int)(raw & 0x7FFFFFFF);
            if (size > frame.Length - pos)
            {
                LtxThrow.Format($"truncated lz4 frame block for page {pgno}: {size} bytes");
            }
            ReadOnlySpan<byte> block = frame.Slice(pos, size);
            if ((raw & 0x80000000) != 0)
            {
                if (size > page.Length - written)
                {
                    LtxThrow.Format($"lz4 frame for page {pgno} decodes past the page size {page.Length}");
                }
                block.CopyTo(page[written..]);
                written += size;
            }
            else
            {
                int n = LZ4Codec.Decode(block, page[written..], page[..written]);
                if (n < 0)
                {
                    LtxThrow.Format($"corrupt lz4 frame block for page {pgno}");
                }
                written += n;
            }
            pos += size + (HasBlockChecksums(flg) ? 4 : 0);
        }
        pos += HasContentChecksum(flg) ? 4 : 0;
        if (pos > frame.Length)
        {
            LtxThrow.Format($"truncated lz4 frame for page {pgno}");
        }
        if (written != page.Length)
        {
            LtxThrow.Format($"lz4 frame for page {pgno} decodes to {written} bytes, expected {page.Length}");
        }
        return pos;
    }
}
