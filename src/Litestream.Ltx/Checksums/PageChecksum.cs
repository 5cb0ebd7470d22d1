using System.Buffers.Binary;

namespace Litestream.Ltx.Checksums;

/// <summary>LTX page checksum: <c>ChecksumFlag | CRC64(be32(pgno) || page)</c> (ltx <c>ChecksumPage</c>).</summary>
public static class PageChecksum
{
    /// <summary>Checksum of one page.</summary>
    public static ulong Compute(uint pgno, ReadOnlySpan<byte> page)
    {
        Span<byte> pgnoBytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(pgnoBytes, pgno);
        return LtxConstants.ChecksumFlag | Crc64Iso.Update(Crc64Iso.Compute(pgnoBytes), page);
    }
}

/// <summary>
/// The rolling database checksum (LTX.md §5.2): <c>ChecksumFlag | XOR(page checksums)</c> over every
/// page except the lock page. Order-independent; a page is replaced by XOR-ing out its old checksum.
/// An empty database is <see cref="LtxConstants.ChecksumFlag"/>.
/// </summary>
public struct DatabaseChecksum
{
    private ulong _xor;

    /// <summary>The checksum so far (flag always set).</summary>
    public readonly ulong Value => LtxConstants.ChecksumFlag | _xor;

    /// <summary>Folds in (or, applied twice, removes) one page checksum.</summary>
    public void Add(ulong pageChecksum) => _xor ^= pageChecksum;

    /// <summary>Folds in the pages another checksum holds (parts of one database summed apart).</summary>
    public void Merge(DatabaseChecksum other) => _xor ^= other._xor;

    /// <summary>Checksum of a whole database image (a multiple of <paramref name="pageSize"/>), skipping the lock page.</summary>
    public static ulong Compute(ReadOnlySpan<byte> database, uint pageSize)
    {
        var sum = new DatabaseChecksum();
        uint lockPgno = LtxConstants.LockPgno(pageSize);
        uint pages = (uint)(database.Length / pageSize);
        for (uint pgno = 1; pgno <= pages; pgno++)
        {
            if (pgno != lockPgno)
            {
                sum.Add(PageChecksum.Compute(pgno, database.Slice((int)((pgno - 1) * pageSize), (int)pageSize)));
            }
        }
        return sum.Value;
    }
}
