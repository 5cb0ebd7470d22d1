using Litestream.Internal;
using Litestream.Ltx;

namespace Litestream.Restore;

/// <summary>
/// A file may grow the database only with pages it carries. Applying a file writes its pages and sizes the
/// database to its Commit (LTX.md §8); SQLite writes every page a transaction adds, so a Commit past both
/// the size before the file and the file's last page claims pages that exist nowhere and would read as
/// zeros. Checked before the database is sized: a hostile Commit (up to 2^32-1 pages) would otherwise make a
/// sparse file of terabytes, or a page map the VFS cannot allocate.
/// </summary>
internal static class DatabaseGrowth
{
    /// <summary>Checks <paramref name="header"/>'s Commit against the size before the file and the file's last page.</summary>
    /// <exception cref="LtxFormatException">The file grows the database past its own pages.</exception>
    public static void Check(LtxHeader header, uint previousCommit, uint lastPgno)
    {
        uint lockPgno = LtxConstants.LockPgno(header.PageSize);
        if (header.Commit > previousCommit && header.Commit > lastPgno && !(header.Commit == lockPgno && lastPgno == lockPgno - 1))
        {
            LtxThrow.Format(
                $"commit {header.Commit} grows the database from {previousCommit} pages past the file's last page {lastPgno} (page size {header.PageSize})");
        }
    }
}
