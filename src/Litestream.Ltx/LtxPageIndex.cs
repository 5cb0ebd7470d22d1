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
        => LtxPageIndexReader.TryParse(varints, dataEnd, out index);

    /// <summary>
    /// Random access: parses the index from the last bytes of a file of <paramref name="fileSize"/> bytes.
    /// Start with the last 32 KiB (or the whole file if smaller); on <see cref="OperationStatus.NeedMoreData"/>
    /// read <paramref name="tailBytesNeeded"/> tail bytes and call again.
    /// </summary>
    public static OperationStatus TryReadFromTail(ReadOnlySpan<byte> tail, long fileSize, out LtxPageIndex? index, out int tailBytesNeeded)
        => LtxPageIndexReader.TryReadFromTail(tail, fileSize, out index, out tailBytesNeeded);
}
