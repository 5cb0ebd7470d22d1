using Litestream.Ltx;

namespace Litestream.Vfs;

/// <summary>Where one page of the database lives: a frame of an LTX file. <see cref="File"/> is null for a page no file holds.</summary>
internal readonly record struct PageRef(LtxFileInfo? File, long Offset, int Size);

/// <summary>
/// The database at one TXID as a page → (file, offset) map, built from LTX page indexes. Immutable: a read
/// transaction pins one snapshot, and polling publishes a new one beside it.
/// </summary>
internal sealed class VfsSnapshot
{
    public VfsSnapshot(Txid txid, uint pageSize, PageRef[] pages, DateTimeOffset createdAt, LtxHeader? last)
    {
        Last = last;
        Txid = txid;
        PageSize = pageSize;
        Pages = pages;
        CreatedAt = createdAt;
    }

    /// <summary>The TXID the pages reflect.</summary>
    public Txid Txid { get; }

    /// <summary>The header of the newest file applied, which the next file applied must follow (TXIDs, encryption, lease generation).</summary>
    public LtxHeader? Last { get; }

    /// <summary>Database page size.</summary>
    public uint PageSize { get; }

    /// <summary>Index pgno - 1; the length is the database size in pages (the last file's Commit).</summary>
    public PageRef[] Pages { get; }

    /// <summary>Creation time of the newest file applied (its LTX header timestamp).</summary>
    public DateTimeOffset CreatedAt { get; }

    /// <summary>Database size in bytes.</summary>
    public long Size => (long)Pages.Length * PageSize;

    /// <summary>The SQLite lock-byte page, which no file carries (SQLite never reads it).</summary>
    public uint LockPage => (uint)(0x40000000 / PageSize) + 1;
}
