using System.Buffers;
using System.Buffers.Binary;

namespace Litestream.Ltx;

/// <summary>One page index entry: where a page's frame (header + payload) sits in the file.</summary>
/// <param name="Pgno">Page number.</param>
/// <param name="Offset">Absolute file offset of the frame's page header.</param>
/// <param name="Size">Full frame length: page header, optional size prefix and payload.</param>
public readonly record struct LtxPageIndexEntry(uint Pgno, long Offset, long Size);

/// <summary>
/// The page index that follows the end marker (LTX.md §4): uvarint triples (pgno, offset, size) in
/// ascending page order, a 0 terminator, then a big-endian u64 holding the byte length of the varints
/// including the terminator. Lets a reader fetch one page with one ranged read.
/// </summary>
public sealed class LtxPageIndex
{
    private readonly LtxPageIndexEntry[] _entries;

    /// <summary>Creates an index over entries sorted by page number.</summary>
    public LtxPageIndex(LtxPageIndexEntry[] entries) => _entries = entries;

    /// <summary>The entries in ascending page order.</summary>
    public IReadOnlyList<LtxPageIndexEntry> Entries => _entries;

    /// <summary>Finds a page by binary search.</summary>
    public bool TryGet(uint pgno, out LtxPageIndexEntry entry)
    {
        int lo = 0, hi = _entries.Length - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            uint p = _entries[mid].Pgno;
            if (p == pgno)
            {
                entry = _entries[mid];
                return true;
            }
            if (p < pgno)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }
        entry = default;
        return false;
    }

    /// <summary>Bytes the varint section takes for these entries, terminator included.</summary>
    public static int EncodedLength(ReadOnlySpan<LtxPageIndexEntry> entries)
    {
        int n = 1;
        foreach (LtxPageIndexEntry e in entries)
        {
            n += UVarint.Length(e.Pgno) + UVarint.Length((ulong)e.Offset) + UVarint.Length((ulong)e.Size);
        }
        return n;
    }

    /// <summary>Writes varints, terminator and the 8-byte length; returns the bytes written.</summary>
    public static int Write(ReadOnlySpan<LtxPageIndexEntry> entries, Span<byte> destination)
    {
        int pos = 0;
        foreach (LtxPageIndexEntry e in entries)
        {
            pos += WriteEntry(destination[pos..], e.Pgno, e.Offset, e.Size);
        }
        destination[pos++] = 0;
        BinaryPrimitives.WriteUInt64BigEndian(destination[pos..], (ulong)pos);
        return pos + LtxConstants.PageIndexSizeFieldSize;
    }

    /// <summary>Most bytes one entry takes.</summary>
    internal const int MaxEntryLength = 3 * UVarint.MaxLength;

    /// <summary>Writes one entry's three uvarints (pgno, offset, size); returns the bytes written.</summary>
    internal static int WriteEntry(Span<byte> destination, uint pgno, long offset, long size)
    {
        int pos = UVarint.Write(destination, pgno);
        pos += UVarint.Write(destination[pos..], (ulong)offset);
        return pos + UVarint.Write(destination[pos..], (ulong)size);
    }

    /// <summary>
    /// Checks the index against its file's header, as a reader that maps pages through the index without
    /// decoding the file must: no page past Commit, never the lock page, and for a snapshot every page from 1
    /// to Commit (LTX.md §3). <paramref name="header"/> must be valid (<see cref="LtxHeader.Validate"/>).
    /// </summary>
    /// <exception cref="LtxFormatException">The index does not describe a valid file with this header.</exception>
    public void Validate(LtxHeader header)
    {
        uint lockPgno = LtxConstants.LockPgno(header.PageSize);
        uint prev = 0;
        foreach (LtxPageIndexEntry entry in _entries)
        {
            LtxPageRules.CheckPlacement(header, lockPgno, prev, entry.Pgno);
            prev = entry.Pgno;
        }
        if (header.IsSnapshot)
        {
            LtxPageRules.CheckSnapshotEnd(header, lockPgno, prev);
        }
    }

    /// <summary>
    /// Parses the varint section (terminator included, without the trailing length field).
    /// Returns InvalidData for malformed varints, unsorted pages or offsets outside <paramref name="dataEnd"/>.
    /// </summary>
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

    /// <summary>
    /// Random access: parses the index from the last bytes of a file of <paramref name="fileSize"/> bytes.
    /// Start with the last 32 KiB (or the whole file if smaller); on <see cref="OperationStatus.NeedMoreData"/>
    /// read <paramref name="tailBytesNeeded"/> tail bytes and call again.
    /// </summary>
    public static OperationStatus TryReadFromTail(ReadOnlySpan<byte> tail, long fileSize, out LtxPageIndex? index, out int tailBytesNeeded)
    {
        index = null;
        tailBytesNeeded = 0;
        const int fixedTail = LtxConstants.TrailerSize + LtxConstants.PageIndexSizeFieldSize;
        if (fileSize < LtxConstants.HeaderSize + LtxConstants.PageHeaderSize + 1 + fixedTail || tail.Length > fileSize)
        {
            return OperationStatus.InvalidData;
        }
        if (tail.Length < fixedTail)
        {
            tailBytesNeeded = fixedTail;
            return OperationStatus.NeedMoreData;
        }
        ulong size = BinaryPrimitives.ReadUInt64BigEndian(tail[^fixedTail..]);
        long dataEnd = fileSize - fixedTail;
        if (size == 0 || size > (ulong)(dataEnd - LtxConstants.HeaderSize - LtxConstants.PageHeaderSize))
        {
            return OperationStatus.InvalidData;
        }
        long needed = (long)size + fixedTail;
        if (tail.Length < needed)
        {
            tailBytesNeeded = checked((int)needed);
            return OperationStatus.NeedMoreData;
        }
        ReadOnlySpan<byte> varints = tail.Slice(tail.Length - (int)needed, (int)size);
        // Frames end where the index starts, minus the end marker.
        return TryParse(varints, dataEnd - (long)size - LtxConstants.PageHeaderSize, out index);
    }
}

/// <summary>Go <c>binary.AppendUvarint</c>/<c>Uvarint</c>: 7 bits per byte, low group first.</summary>
internal static class UVarint
{
    public const int MaxLength = 10;

    public static int Length(ulong value)
    {
        int n = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            n++;
        }
        return n;
    }

    public static int Write(Span<byte> destination, ulong value)
    {
        int i = 0;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }
        destination[i++] = (byte)value;
        return i;
    }

    public static bool TryRead(ReadOnlySpan<byte> source, out ulong value, out int bytesRead)
    {
        value = 0;
        int shift = 0;
        for (int i = 0; i < source.Length && i < MaxLength; i++)
        {
            byte b = source[i];
            if (i == MaxLength - 1 && b > 1)
            {
                break; // overflows 64 bits
            }
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                bytesRead = i + 1;
                return true;
            }
            shift += 7;
        }
        bytesRead = 0;
        return false;
    }
}
