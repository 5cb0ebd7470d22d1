using System.Buffers.Binary;

namespace Litestream.Restore;

/// <summary>
/// The SQLite database header fields (fileformat.html §1.3) a copy that is only read must show on page 1: the
/// file format write and read versions (bytes 18, 19) = 1, rollback journal, so SQLite never looks for a WAL
/// beside it, and the file change counter (bytes 24..27), whose change makes every connection's pager drop its
/// cache. <c>restore -f</c> (<see cref="Follower"/>) writes it into the file after each apply; the VFS patches
/// every read of page 1 with the TXID it serves.
/// </summary>
internal static class Page1Patch
{
    /// <summary>File format write version (1 byte).</summary>
    public const int WriteVersionOffset = 18;

    /// <summary>File format read version (1 byte).</summary>
    public const int ReadVersionOffset = 19;

    /// <summary>File change counter (big-endian u32).</summary>
    public const int ChangeCounterOffset = 24;

    /// <summary>Bytes of page 1 the patch reaches: through the change counter.</summary>
    public const int Length = ChangeCounterOffset + sizeof(uint);

    /// <summary>File format version 1: legacy rollback journal (2 is WAL).</summary>
    public const byte RollbackJournal = 1;

    /// <summary>
    /// Writes the patched bytes that fall in <paramref name="data"/>, which holds the file from
    /// <paramref name="offset"/> (a read of any range; nothing to do past <see cref="Length"/>).
    /// </summary>
    public static void Apply(Span<byte> data, long offset, uint changeCounter)
    {
        if (offset >= Length)
        {
            return;
        }
        Span<byte> header = stackalloc byte[Length];
        header[WriteVersionOffset] = RollbackJournal;
        header[ReadVersionOffset] = RollbackJournal;
        BinaryPrimitives.WriteUInt32BigEndian(header[ChangeCounterOffset..], changeCounter);
        ReadOnlySpan<int> patched = [WriteVersionOffset, ReadVersionOffset, ChangeCounterOffset, ChangeCounterOffset + 1, ChangeCounterOffset + 2, ChangeCounterOffset + 3];
        foreach (int at in patched)
        {
            if (at >= offset && at - offset < data.Length)
            {
                data[(int)(at - offset)] = header[at];
            }
        }
    }
}
