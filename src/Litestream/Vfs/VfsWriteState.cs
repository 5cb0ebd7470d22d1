namespace Litestream.Vfs;

/// <summary>
/// What a write-enabled replica's connections read: the replica's snapshot <see cref="Base"/> with the pages committed
/// locally since (in <see cref="Buffer"/>) laid over it. A published state never changes; the connection in a write
/// transaction changes its own copy, which becomes the published state at commit. <see cref="Version"/> grows with
/// every published state and is what page 1's change counter shows, so other connections' caches see each commit.
/// </summary>
internal sealed class VfsWriteState
{
    public VfsWriteState(VfsSnapshot @base, Dictionary<uint, long> pages, uint commit, uint pageSize, VfsWriteBuffer buffer, long version)
    {
        Base = @base;
        Pages = pages;
        Commit = commit;
        PageSize = pageSize;
        Buffer = buffer;
        Version = version;
    }

    /// <summary>The replica's state the local pages are based on.</summary>
    public VfsSnapshot Base { get; }

    /// <summary>Page number → offset in <see cref="Buffer"/> of its newest local version.</summary>
    public Dictionary<uint, long> Pages { get; }

    /// <summary>The database size in pages.</summary>
    public uint Commit { get; set; }

    /// <summary>The page size (0 for a new database until its first page is written).</summary>
    public uint PageSize { get; set; }

    public VfsWriteBuffer Buffer { get; }

    public long Version { get; }

    /// <summary>A write transaction wrote or truncated (it may leave the pages it changed as they were).</summary>
    public bool Written { get; set; }

    /// <summary>Holds changes the replica does not have yet.</summary>
    public bool Dirty => Pages.Count > 0 || Commit != Base.Pages.Length;

    public long Size => (long)Commit * PageSize;

    /// <summary>A copy to change, at <paramref name="version"/>.</summary>
    public VfsWriteState Fork(long version) => new(Base, new Dictionary<uint, long>(Pages), Commit, PageSize, Buffer, version);
}
