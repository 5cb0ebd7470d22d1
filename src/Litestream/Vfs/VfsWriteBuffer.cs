using Microsoft.Win32.SafeHandles;

namespace Litestream.Vfs;

/// <summary>
/// The local file a VFS writer keeps its committed, not yet uploaded pages in: pages are only appended (a page
/// written again goes to a new offset), so a read transaction pinned on an older state keeps reading its pages. After
/// an upload the writer starts a new buffer at the same path; the old one is unlinked and its handle lives on while a
/// state still points into it (closed when the last such state is collected).
/// </summary>
internal sealed class VfsWriteBuffer
{
    private readonly SafeFileHandle _handle;
    private long _end;

    private VfsWriteBuffer(SafeFileHandle handle) => _handle = handle;

    /// <summary>Starts an empty buffer at <paramref name="path"/>, discarding what was there (as upstream).</summary>
    public static VfsWriteBuffer Create(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.Delete(path);
        return new VfsWriteBuffer(File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read | FileShare.Delete));
    }

    /// <summary>Appends <paramref name="page"/>; returns its offset.</summary>
    public long Append(ReadOnlySpan<byte> page)
    {
        long offset = _end;
        RandomAccess.Write(_handle, page, offset);
        _end += page.Length;
        return offset;
    }

    public void Read(Span<byte> page, long offset)
    {
        int n = RandomAccess.Read(_handle, page, offset);
        if (n != page.Length)
        {
            throw new IOException($"write buffer: short read of {page.Length} bytes at {offset} ({n})");
        }
    }

    /// <summary>Makes what was appended durable (SQLite's xSync at commit).</summary>
    public void Flush() => RandomAccess.FlushToDisk(_handle);
}
