using Litestream.Ltx;
using Litestream.Ltx.Wal;
using Microsoft.Win32.SafeHandles;

namespace Litestream.Replication;

/// <summary>
/// The database's pages as of a captured WAL position: a page the WAL range holds comes from its newest frame there,
/// any other from the database file, which the long read transaction keeps from moving past the position.
/// </summary>
internal readonly struct WalPageSource(WalPageMap map, SafeFileHandle wal, SafeFileHandle database, uint pageSize)
{
    /// <summary>Reads page <paramref name="pgno"/> into <paramref name="buffer"/> (one page long).</summary>
    public void Read(uint pgno, Span<byte> buffer)
    {
        int read = map.Pages.TryGetValue(pgno, out long frameOffset)
            ? RandomAccess.Read(wal, buffer, frameOffset + WalFrameHeader.Size)
            : RandomAccess.Read(database, buffer, (long)(pgno - 1) * pageSize);
        if (read != buffer.Length)
        {
            // A page past the end of the database file that the WAL does not hold reads as zeros, as SQLite would.
            buffer[Math.Max(read, 0)..].Clear();
        }
    }

    /// <summary>Encodes every page 1..<paramref name="commit"/> but the lock page (a snapshot's pages); returns how many.</summary>
    public int EncodeAll(LtxEncoder encoder, uint commit, Span<byte> buffer)
    {
        uint lockPgno = LtxConstants.LockPgno(pageSize);
        int count = 0;
        for (uint pgno = 1; pgno <= commit; pgno++)
        {
            if (pgno != lockPgno)
            {
                Read(pgno, buffer);
                encoder.EncodePage(pgno, buffer);
                count++;
            }
        }
        return count;
    }

    /// <summary>
    /// Encodes the pages the WAL range wrote, plus the pages the database grew by past <paramref name="previousCommit"/>
    /// that the range did not write (they come from the database file), in page order; returns how many.
    /// </summary>
    public int EncodeChanged(LtxEncoder encoder, uint previousCommit, uint commit, Span<byte> buffer)
    {
        uint lockPgno = LtxConstants.LockPgno(pageSize);
        var pgnos = new List<uint>(map.Pages.Count);
        foreach (uint pgno in map.Pages.Keys)
        {
            pgnos.Add(pgno);
        }
        for (uint pgno = previousCommit + 1; pgno <= commit; pgno++)
        {
            if (pgno != lockPgno && !map.Pages.ContainsKey(pgno))
            {
                pgnos.Add(pgno);
            }
        }
        pgnos.Sort();
        foreach (uint pgno in pgnos)
        {
            Read(pgno, buffer);
            encoder.EncodePage(pgno, buffer);
        }
        return pgnos.Count;
    }
}
