using System.Buffers.Binary;
using Microsoft.Data.Sqlite;

namespace Litestream.Client;

/// <summary>
/// The pages one transaction changed, captured on a private snapshot of a follower copy: the copy is read whole, written
/// to a temporary file in rollback-journal mode (so the transaction touches nothing but that file), the transaction runs
/// there, and every page that differs afterwards (or lies past the old end) is one of the set. <see cref="Commit"/> is
/// the database's size in pages after it.
/// </summary>
internal sealed class PageSet
{
    // Offsets 18 and 19 of page 1: file format write/read version; 1 = rollback journal, 2 = WAL.
    private const int FormatWriteVersion = 18, FormatReadVersion = 19, PageSizeOffset = 16;

    private PageSet(uint commit, List<(uint Pgno, byte[] Data)> pages)
    {
        Commit = commit;
        Pages = pages;
    }

    public uint Commit { get; }

    public IReadOnlyList<(uint Pgno, byte[] Data)> Pages { get; }

    /// <summary>Runs <paramref name="transaction"/> on a snapshot of <paramref name="copy"/> opened through <paramref name="open"/>; the snapshot is deleted after.</summary>
    public static async Task<PageSet> CaptureAsync(string copy, Func<string, SqliteConnection> open, Func<SqliteConnection, CancellationToken, Task> transaction, CancellationToken cancellationToken)
    {
        byte[] before = await File.ReadAllBytesAsync(copy, cancellationToken).ConfigureAwait(false);
        if (before.Length < 100)
        {
            throw new InvalidDataException($"{copy} is not a SQLite database");
        }
        int pageSize = BinaryPrimitives.ReadUInt16BigEndian(before.AsSpan(PageSizeOffset)) is var p && p == 1 ? 65536 : p;
        before[FormatWriteVersion] = 1;
        before[FormatReadVersion] = 1;
        string snapshot = $"{copy}.forward-{Guid.NewGuid():N}";
        try
        {
            await File.WriteAllBytesAsync(snapshot, before, cancellationToken).ConfigureAwait(false);
            using (SqliteConnection connection = open(snapshot))
            {
                await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
                await transaction(connection, cancellationToken).ConfigureAwait(false);
            }
            byte[] after = await File.ReadAllBytesAsync(snapshot, cancellationToken).ConfigureAwait(false);
            var pages = new List<(uint, byte[])>();
            for (int offset = 0; offset + pageSize <= after.Length; offset += pageSize)
            {
                ReadOnlySpan<byte> page = after.AsSpan(offset, pageSize);
                if (offset + pageSize > before.Length || !page.SequenceEqual(before.AsSpan(offset, pageSize)))
                {
                    pages.Add(((uint)(offset / pageSize) + 1, page.ToArray()));
                }
            }
            return new PageSet((uint)(after.Length / pageSize), pages);
        }
        finally
        {
            File.Delete(snapshot);
            File.Delete(snapshot + "-journal");
        }
    }
}
