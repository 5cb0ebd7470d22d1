using Litestream.Ltx.Checksums;
using Litestream.Ltx.Wal;
using Microsoft.Win32.SafeHandles;

namespace Litestream.Ltx.Tests.Fixtures;

/// <summary>
/// Writes SQLite WAL bytes in memory the way SQLite does (header checksum, chained frame checksums,
/// either byte order) so tests can build valid WALs and then corrupt chosen bytes.
/// </summary>
internal sealed class WalFileBuilder
{
    private readonly MemoryStream _bytes = new();
    private readonly WalHeader _header;
    private uint _s0;
    private uint _s1;

    public WalFileBuilder(uint pageSize = 4096, bool bigEndian = false, uint salt1 = 0x01020304, uint salt2 = 0xa0b0c0d0, uint checkpointSeq = 0)
    {
        byte[] header = new byte[WalHeader.Size];
        var fields = new WalHeader
        {
            Magic = bigEndian ? WalHeader.MagicBigEndian : WalHeader.MagicLittleEndian,
            Version = WalHeader.SupportedVersion,
            PageSize = pageSize,
            CheckpointSeq = checkpointSeq,
            Salt1 = salt1,
            Salt2 = salt2,
        };
        fields.Write(header);
        (_s0, _s1) = WalChecksum.Compute(bigEndian, 0, 0, header.AsSpan(0, 24));
        _header = fields with { Checksum1 = _s0, Checksum2 = _s1 };
        _header.Write(header);
        _bytes.Write(header);
    }

    public WalHeader Header => _header;

    public int FrameSize => WalFrameHeader.Size + (int)_header.PageSize;

    public int FrameCount { get; private set; }

    /// <summary>Offset of frame <paramref name="index"/> (0-based).</summary>
    public long FrameOffset(int index) => WalHeader.Size + ((long)index * FrameSize);

    /// <summary>Appends a frame with the header's salts and the next checksum in the chain.</summary>
    public WalFileBuilder Frame(uint pgno, uint commit, byte fill) => Frame(pgno, commit, Enumerable.Repeat(fill, (int)_header.PageSize).ToArray());

    public WalFileBuilder Frame(uint pgno, uint commit, byte[] page)
    {
        byte[] frame = new byte[FrameSize];
        var header = new WalFrameHeader { Pgno = pgno, Commit = commit, Salt1 = _header.Salt1, Salt2 = _header.Salt2 };
        header.Write(frame);
        (_s0, _s1) = WalChecksum.Compute(_header.BigEndianChecksum, _s0, _s1, frame.AsSpan(0, 8));
        (_s0, _s1) = WalChecksum.Compute(_header.BigEndianChecksum, _s0, _s1, page);
        (header with { Checksum1 = _s0, Checksum2 = _s1 }).Write(frame);
        page.CopyTo(frame, WalFrameHeader.Size);
        _bytes.Write(frame);
        FrameCount++;
        return this;
    }

    public byte[] ToArray() => _bytes.ToArray();
}

/// <summary>A temporary file opened for positional reads; deleted on dispose.</summary>
internal sealed class TempFile : IDisposable
{
    public TempFile(byte[] contents)
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"ltx-test-{Guid.NewGuid():N}");
        File.WriteAllBytes(Path, contents);
        Handle = File.OpenHandle(Path);
    }

    public string Path { get; }

    public SafeFileHandle Handle { get; }

    public void Dispose()
    {
        Handle.Dispose();
        File.Delete(Path);
    }
}
