using System.Buffers;
using Microsoft.Win32.SafeHandles;

namespace Litestream.Ltx;

/// <summary>
/// Reads <paramref name="destination"/>.Length bytes of an LTX file starting at <paramref name="offset"/>
/// (one ranged read, e.g. an HTTP Range request); returns the bytes read, fewer only at end of file.
/// </summary>
public delegate ValueTask<int> LtxRangeReader(long offset, Memory<byte> destination, CancellationToken cancellationToken);

/// <summary>
/// Random access to one page of an LTX file through its page index (LTX.md §4), as Litestream's
/// <c>FetchPageIndex</c>/<c>FetchPage</c> do: one ranged read of the file's tail (the last 32 KiB, a
/// second read only for a larger index), then one ranged read per page. A page read this way is checked
/// for its page number and exact decompressed size; the file checksum is not verified (that needs the
/// whole file; <see cref="LtxDecoder"/> does it).
/// </summary>
public static class LtxRandomAccess
{
    /// <summary>Bytes of the tail read first (upstream <c>DefaultEstimatedPageIndexSize</c>).</summary>
    public const int EstimatedIndexTailSize = 32 * 1024;

    /// <summary>Reads the page index of a file of <paramref name="fileSize"/> bytes with at most two ranged reads.</summary>
    /// <exception cref="LtxFormatException">The tail does not hold a well-formed index, or the file is short.</exception>
    public static async ValueTask<LtxPageIndex> ReadPageIndexAsync(LtxRangeReader read, long fileSize, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(read);
        int length = (int)Math.Min(fileSize, EstimatedIndexTailSize);
        while (true)
        {
            byte[] tail = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
            try
            {
                Memory<byte> buffer = tail.AsMemory(0, length);
                int n = await read(fileSize - length, buffer, cancellationToken).ConfigureAwait(false);
                if (Next(buffer.Span, n, fileSize, ref length) is { } index)
                {
                    return index;
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(tail);
            }
        }
    }

    /// <summary>Reads the page index of a local file with positional reads.</summary>
    /// <exception cref="LtxFormatException">The tail does not hold a well-formed index, or the file is short.</exception>
    public static LtxPageIndex ReadPageIndex(SafeFileHandle handle)
    {
        long fileSize = RandomAccess.GetLength(handle);
        int length = (int)Math.Min(fileSize, EstimatedIndexTailSize);
        while (true)
        {
            byte[] tail = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
            try
            {
                Span<byte> buffer = tail.AsSpan(0, length);
                int n = RandomAccess.Read(handle, buffer, fileSize - length);
                if (Next(buffer, n, fileSize, ref length) is { } index)
                {
                    return index;
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(tail);
            }
        }
    }

    /// <summary>
    /// Fetches and decodes one page (either page encoding) into <paramref name="page"/> (PageSize bytes)
    /// with one ranged read of <paramref name="entry"/>'s frame.
    /// </summary>
    /// <exception cref="LtxFormatException">The frame is short, is another page, or does not decode to exactly one page.</exception>
    public static ValueTask<LtxPageHeader> ReadPageAsync(LtxRangeReader read, LtxPageIndexEntry entry, Memory<byte> page, CancellationToken cancellationToken)
        => ReadPageAsync(read, entry, page, cipher: null, cancellationToken);

    /// <summary>
    /// <see cref="ReadPageAsync(LtxRangeReader, LtxPageIndexEntry, Memory{byte}, CancellationToken)"/> for a page of
    /// an encrypted file, opened with the file's <paramref name="cipher"/> (<see cref="LtxPageCipher.ForFile"/>); null
    /// for a plain file.
    /// </summary>
    /// <exception cref="LtxFormatException">The frame is short, is another page, or does not decode to exactly one page.</exception>
    /// <exception cref="LtxAuthenticationException">The sealed page does not authenticate under <paramref name="cipher"/>.</exception>
    public static async ValueTask<LtxPageHeader> ReadPageAsync(LtxRangeReader read, LtxPageIndexEntry entry, Memory<byte> page, LtxFileCipher? cipher = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(read);
        int size = CheckFrameSize(entry, page.Length);
        byte[] frame = ArrayPool<byte>.Shared.Rent(size);
        try
        {
            int n = await read(entry.Offset, frame.AsMemory(0, size), cancellationToken).ConfigureAwait(false);
            return DecodeFrame(frame.AsSpan(0, size), n, entry, page.Span, cipher);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(frame);
        }
    }

    /// <summary>Fetches and decodes one page of a local file with one positional read.</summary>
    /// <exception cref="LtxFormatException">The frame is short, is another page, or does not decode to exactly one page.</exception>
    public static LtxPageHeader ReadPage(SafeFileHandle handle, LtxPageIndexEntry entry, Span<byte> page)
        => ReadPage(handle, entry, page, cipher: null);

    /// <summary><see cref="ReadPage(SafeFileHandle, LtxPageIndexEntry, Span{byte})"/> for a page of an encrypted file (null <paramref name="cipher"/>: a plain file).</summary>
    /// <exception cref="LtxFormatException">The frame is short, is another page, or does not decode to exactly one page.</exception>
    /// <exception cref="LtxAuthenticationException">The sealed page does not authenticate under <paramref name="cipher"/>.</exception>
    public static LtxPageHeader ReadPage(SafeFileHandle handle, LtxPageIndexEntry entry, Span<byte> page, LtxFileCipher? cipher)
    {
        int size = CheckFrameSize(entry, page.Length);
        byte[] frame = ArrayPool<byte>.Shared.Rent(size);
        try
        {
            int n = RandomAccess.Read(handle, frame.AsSpan(0, size), entry.Offset);
            return DecodeFrame(frame.AsSpan(0, size), n, entry, page, cipher);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(frame);
        }
    }

    /// <summary>Parses a tail read; null with <paramref name="length"/> raised when more tail is needed.</summary>
    private static LtxPageIndex? Next(ReadOnlySpan<byte> tail, int read, long fileSize, ref int length)
    {
        if (read != tail.Length)
        {
            LtxThrow.Format($"short read of ltx file tail: {read} of {tail.Length} bytes at offset {fileSize - tail.Length}");
        }
        switch (LtxPageIndexReader.TryReadFromTail(tail, fileSize, out LtxPageIndex? index, out int needed))
        {
            case OperationStatus.Done:
                return index!;
            case OperationStatus.NeedMoreData when needed > length && needed <= fileSize:
                length = needed;
                return null;
            default:
                return LtxThrow.Format<LtxPageIndex>($"invalid page index in ltx file of {fileSize} bytes");
        }
    }

    private static int CheckFrameSize(LtxPageIndexEntry entry, int pageSize)
    {
        if (!LtxConstants.IsValidPageSize((uint)pageSize))
        {
            throw new ArgumentException($"page buffer is {pageSize} bytes, not a page size", nameof(entry));
        }
        // Bound the read before renting for it: an index entry is untrusted input.
        long max = LtxFrameReader.MaxFrameLength(pageSize);
        if (entry.Offset < LtxConstants.HeaderSize || entry.Size < LtxConstants.PageHeaderSize || entry.Size > max)
        {
            LtxThrow.Format($"invalid page index entry for page {entry.Pgno}: offset {entry.Offset}, size {entry.Size}");
        }
        return (int)entry.Size;
    }

    private static LtxPageHeader DecodeFrame(ReadOnlySpan<byte> frame, int read, LtxPageIndexEntry entry, Span<byte> page, LtxFileCipher? cipher)
    {
        if (read != frame.Length)
        {
            LtxThrow.Format($"short read of page {entry.Pgno}: {read} of {frame.Length} bytes at offset {entry.Offset}");
        }
        LtxPageHeader header = LtxDecoder.DecodePageData(frame, page, cipher);
        if (header.Pgno != entry.Pgno)
        {
            LtxThrow.Format($"page index entry for page {entry.Pgno} points at page {header.Pgno} (offset {entry.Offset})");
        }
        return header;
    }
}
