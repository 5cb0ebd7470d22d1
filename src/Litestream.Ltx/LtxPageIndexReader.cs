using System.Buffers;
using System.Buffers.Binary;
using Litestream.Ltx.Buffers;
using Litestream.Ltx.Checksums;

namespace Litestream.Ltx;

/// <summary>
/// The one reader of an LTX file's page index (LTX.md §4): uvarint triples (pgno, offset, size), a 0
/// terminator, then the big-endian u64 size field, bounded against the file's size before anything is
/// read or allocated. The decoders and the segment planner stream it varint by varint (continuing the
/// file CRC, holding nothing per page); random access parses it whole from the file's tail
/// (<see cref="TryReadFromTail"/>).
/// </summary>
internal sealed class LtxPageIndexReader(StreamSource source, ulong crc)
{
    /// <summary>Bytes at the end of a file that hold the index size field and the trailer.</summary>
    public const int FixedTailSize = LtxConstants.PageIndexSizeFieldSize + LtxConstants.TrailerSize;

    /// <summary>The smallest file with a page index: header, end marker, the index's terminator and the fixed tail.</summary>
    public const int MinFileSize = LtxConstants.HeaderSize + LtxConstants.PageHeaderSize + 1 + FixedTailSize;

    private readonly byte[] _varint = new byte[UVarint.MaxLength];

    /// <summary>The CRC given at construction continued over every byte read.</summary>
    public ulong Crc { get; private set; } = crc;

    /// <summary>Bytes of varints read.</summary>
    public long Consumed { get; private set; }

    /// <summary>
    /// Reads the size field (the first 8 of the last <see cref="FixedTailSize"/> bytes) and checks that an
    /// index of that many bytes fits between the header's first frame and the end marker.
    /// </summary>
    public static bool TryReadIndexLength(ReadOnlySpan<byte> sizeField, long fileSize, out ulong length)
    {
        length = BinaryPrimitives.ReadUInt64BigEndian(sizeField);
        return fileSize >= MinFileSize && length != 0 && length <= (ulong)(fileSize - MinFileSize + 1);
    }

    /// <summary>Where the page index starts, from the last <see cref="FixedTailSize"/> bytes of a file of <paramref name="fileSize"/> bytes.</summary>
    /// <exception cref="LtxFormatException">The size field cannot describe an index in a file this size.</exception>
    public static long IndexOffset(ReadOnlySpan<byte> fixedTail, long fileSize)
    {
        if (fixedTail.Length != FixedTailSize)
        {
            throw new ArgumentException($"expected the last {FixedTailSize} bytes, got {fixedTail.Length}", nameof(fixedTail));
        }
        if (!TryReadIndexLength(fixedTail, fileSize, out ulong size))
        {
            LtxThrow.Format($"invalid page index size {size} in an ltx file of {fileSize} bytes");
        }
        return fileSize - FixedTailSize - (long)size;
    }

    /// <summary>See <see cref="LtxPageIndex.TryReadFromTail"/>.</summary>
    public static OperationStatus TryReadFromTail(ReadOnlySpan<byte> tail, long fileSize, out LtxPageIndex? index, out int tailBytesNeeded)
    {
        index = null;
        tailBytesNeeded = 0;
        if (fileSize < MinFileSize || tail.Length > fileSize)
        {
            return OperationStatus.InvalidData;
        }
        if (tail.Length < FixedTailSize)
        {
            tailBytesNeeded = FixedTailSize;
            return OperationStatus.NeedMoreData;
        }
        if (!TryReadIndexLength(tail[^FixedTailSize..], fileSize, out ulong size))
        {
            return OperationStatus.InvalidData;
        }
        long needed = (long)size + FixedTailSize;
        if (tail.Length < needed)
        {
            tailBytesNeeded = checked((int)needed);
            return OperationStatus.NeedMoreData;
        }
        ReadOnlySpan<byte> varints = tail.Slice(tail.Length - (int)needed, (int)size);
        // Frames end where the index starts, minus the end marker.
        return TryParse(varints, fileSize - needed - LtxConstants.PageHeaderSize, out index);
    }

    /// <summary>See <see cref="LtxPageIndex.TryParse"/>.</summary>
    public static OperationStatus TryParse(ReadOnlySpan<byte> varints, long dataEnd, out LtxPageIndex? index)
    {
        index = null;
        var entries = new List<LtxPageIndexEntry>();
        int pos = 0;
        uint prev = 0;
        while (true)
        {
            if (!UVarint.TryRead(varints[pos..], out ulong pgno, out int n))
            {
                return OperationStatus.InvalidData;
            }
            pos += n;
            if (pgno == 0)
            {
                break;
            }
            if (!UVarint.TryRead(varints[pos..], out ulong offset, out n))
            {
                return OperationStatus.InvalidData;
            }
            pos += n;
            if (!UVarint.TryRead(varints[pos..], out ulong size, out n))
            {
                return OperationStatus.InvalidData;
            }
            pos += n;
            if (pgno > uint.MaxValue || pgno <= prev || offset < LtxConstants.HeaderSize
                || size < LtxConstants.PageHeaderSize || offset > (ulong)dataEnd || size > (ulong)dataEnd - offset)
            {
                return OperationStatus.InvalidData;
            }
            prev = (uint)pgno;
            entries.Add(new LtxPageIndexEntry((uint)pgno, (long)offset, (long)size));
        }
        if (pos != varints.Length)
        {
            return OperationStatus.InvalidData;
        }
        index = new LtxPageIndex(entries.ToArray());
        return OperationStatus.Done;
    }

    /// <summary>Folds one index entry into a running hash (the frames' and the index's must agree).</summary>
    public static ulong HashEntry(ulong hash, ulong pgno, ulong offset, ulong size)
    {
        Span<ulong> entry = [pgno, offset, size];
        return Crc64Iso.Update(hash, System.Runtime.InteropServices.MemoryMarshal.AsBytes(entry));
    }

    /// <summary>Reads the next varint: a page number (0 at the terminator), then that entry's offset and size.</summary>
    /// <exception cref="LtxFormatException">The stream ends or the varint is malformed.</exception>
    public ulong Next()
    {
        for (int i = 0; i < UVarint.MaxLength; i++)
        {
            int b = source.ReadByte();
            if (b < 0)
            {
                LtxThrow.Format($"unexpected end of file in page index at offset {source.Position}");
            }
            _varint[i] = (byte)b;
            if (b < 0x80)
            {
                ReadOnlySpan<byte> bytes = _varint.AsSpan(0, i + 1);
                Crc = Crc64Iso.Update(Crc, bytes);
                Consumed += bytes.Length;
                if (!UVarint.TryRead(bytes, out ulong value, out _))
                {
                    break;
                }
                return value;
            }
        }
        return LtxThrow.Format<ulong>($"invalid varint in page index at offset {source.Position}");
    }

    /// <summary>Checks the 8-byte size field that follows the varints against the bytes read, and folds it into <see cref="Crc"/>.</summary>
    public void CheckSizeField(ReadOnlySpan<byte> sizeField)
    {
        ulong stored = BinaryPrimitives.ReadUInt64BigEndian(sizeField);
        if (stored != (ulong)Consumed)
        {
            LtxThrow.Format($"page index size mismatch: stored {stored}, actual {Consumed}");
        }
        Crc = Crc64Iso.Update(Crc, sizeField);
    }
}
