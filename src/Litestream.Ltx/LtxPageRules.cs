namespace Litestream.Ltx;

/// <summary>Page ordering rules shared by the encoder and decoder (ltx <c>Encoder.EncodePage</c>).</summary>
internal static class LtxPageRules
{
    /// <summary>
    /// Where a page may stand in a file with <paramref name="header"/> after <paramref name="prevPgno"/>: never
    /// the lock page, not past the commit size, and in order (<see cref="CheckOrder"/>). Frames and index
    /// entries are held to the same rules.
    /// </summary>
    public static void CheckPlacement(LtxHeader header, uint lockPgno, uint prevPgno, ulong pgno)
    {
        if (pgno == lockPgno)
        {
            LtxThrow.Format($"cannot decode lock page: pgno={pgno}");
        }
        if (pgno > header.Commit)
        {
            LtxThrow.Format($"page number {pgno} out-of-bounds for commit size {header.Commit}");
        }
        CheckOrder(header.IsSnapshot, prevPgno, (uint)pgno, lockPgno);
    }

    /// <summary>
    /// A snapshot holds every page from 1 to Commit but the lock page (LTX.md §3): with its pages in sequence
    /// (<see cref="CheckOrder"/>), it is whole when its last page is Commit, or the page before the lock page
    /// when Commit is the lock page. A Commit past the last page would have a reader zero-fill (or, at
    /// Commit 2^32-1, allocate terabytes for) pages the file does not hold.
    /// </summary>
    public static void CheckSnapshotEnd(LtxHeader header, uint lockPgno, uint lastPgno)
    {
        uint expected = header.Commit == lockPgno ? header.Commit - 1 : header.Commit;
        if (lastPgno != expected)
        {
            LtxThrow.Format($"snapshot transaction file is missing pages: last page {lastPgno}, commit {header.Commit}");
        }
    }

    public static void CheckOrder(bool snapshot, uint prevPgno, uint pgno, uint lockPgno)
    {
        if (snapshot)
        {
            if (prevPgno == 0)
            {
                if (pgno != 1)
                {
                    LtxThrow.Format("snapshot transaction file must start with page number 1");
                }
            }
            else if (prevPgno == lockPgno - 1)
            {
                if (pgno != prevPgno + 2)
                {
                    LtxThrow.Format($"nonsequential page numbers in snapshot transaction (skip lock page): {prevPgno},{pgno}");
                }
            }
            else if (pgno != prevPgno + 1)
            {
                LtxThrow.Format($"nonsequential page numbers in snapshot transaction: {prevPgno},{pgno}");
            }
        }
        else if (prevPgno >= pgno)
        {
            LtxThrow.Format($"out-of-order page numbers: {prevPgno},{pgno}");
        }
    }
}
