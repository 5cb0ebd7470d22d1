using System.Buffers;
using System.Buffers.Binary;
using K4os.Compression.LZ4;

namespace Litestream.Ltx.Compression;

/// <summary>
/// Streams the content of one LZ4 frame (the format of Litestream v0.3 snapshots and WAL segments):
/// blocks are decoded one at a time into a rented buffer of the frame's maximum block size, linked
/// blocks against the previous 64 KiB of output. xxHash checksums are not verified; SQLite validates
/// the WAL frames and the restore runs an integrity check.
/// </summary>
public sealed class Lz4FrameReadStream : Stream
{
    private const int DictionarySize = 64 * 1024;
    private readonly Stream _inner;
    private readonly bool _leaveOpen;
    private byte[]? _output;
    private byte[]? _input;
    private int _outputStart;
    private int _outputEnd;
    private bool _linked;
    private bool _blockChecksums;
    private bool _contentChecksum;
    private bool _headerRead;
    private bool _done;

    /// <summary>Wraps a stream positioned at the start of an LZ4 frame.</summary>
    public Lz4FrameReadStream(Stream inner, bool leaveOpen = false)
    {
        _inner = inner;
        _leaveOpen = leaveOpen;
    }

    /// <inheritdoc />
    public override bool CanRead => true;
    /// <inheritdoc />
    public override bool CanSeek => false;
    /// <inheritdoc />
    public override bool CanWrite => false;
    /// <inheritdoc />
    public override long Length => throw new NotSupportedException();
    /// <inheritdoc />
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    /// <inheritdoc />
    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    /// <inheritdoc />
    public override int Read(Span<byte> buffer)
    {
        if (!_headerRead)
        {
            ReadHeader();
        }
        while (_outputStart == _outputEnd)
        {
            if (_done || !ReadBlock())
            {
                return 0;
            }
        }
        int n = Math.Min(buffer.Length, _outputEnd - _outputStart);
        _output.AsSpan(_outputStart, n).CopyTo(buffer);
        _outputStart += n;
        return n;
    }

    private void ReadHeader()
    {
        Span<byte> head = stackalloc byte[19];
        ReadExactly(head[..6], "lz4 frame header");
        if (BinaryPrimitives.ReadUInt32LittleEndian(head) != Lz4Block.FrameMagic)
        {
            LtxThrow.Format($"invalid lz4 frame magic: 0x{BinaryPrimitives.ReadUInt32LittleEndian(head):x8}");
        }
        byte flg = head[4], bd = head[5];
        if ((flg >> 6) != 1)
        {
            LtxThrow.Format($"unsupported lz4 frame version: flg 0x{flg:x2}");
        }
        int rest = 1 + ((flg & 0x08) != 0 ? 8 : 0) + ((flg & 0x01) != 0 ? 4 : 0);
        ReadExactly(head.Slice(6, rest), "lz4 frame header");
        _linked = (flg & 0x20) == 0;
        _blockChecksums = Lz4Block.HasBlockChecksums(flg);
        _contentChecksum = Lz4Block.HasContentChecksum(flg);
        int maxBlock = ((bd >> 4) & 0x7) switch
        {
            4 => 64 * 1024,
            5 => 256 * 1024,
            6 => 1024 * 1024,
            7 => 4 * 1024 * 1024,
            int id => LtxThrow.Format<int>($"invalid lz4 block size id {id}"),
        };
        _output = ArrayPool<byte>.Shared.Rent(DictionarySize + maxBlock);
        _input = ArrayPool<byte>.Shared.Rent(maxBlock);
        _outputStart = _outputEnd = DictionarySize;
        _headerRead = true;
    }

    private bool ReadBlock()
    {
        Span<byte> sizeBytes = stackalloc byte[4];
        ReadExactly(sizeBytes, "lz4 block size");
        uint raw = BinaryPrimitives.ReadUInt32LittleEndian(sizeBytes);
        if (raw == 0)
        {
            if (_contentChecksum)
            {
                ReadExactly(sizeBytes, "lz4 content checksum");
            }
            _done = true;
            return false;
        }
        int size = (int)(raw & 0x7FFFFFFF);
        byte[] input = _input!, output = _output!;
        int maxBlock = output.Length - DictionarySize;
        if (size > Math.Min(input.Length, maxBlock))
        {
            LtxThrow.Format($"lz4 block of {size} bytes exceeds the frame's block size {maxBlock}");
        }
        // Keep the last 64 KiB of output in front of the new block: linked blocks reference it.
        int keep = Math.Min(DictionarySize, _outputEnd);
        output.AsSpan(_outputEnd - keep, keep).CopyTo(output.AsSpan(DictionarySize - keep));
        ReadExactly(input.AsSpan(0, size), "lz4 block");
        int written;
        if ((raw & 0x80000000) != 0)
        {
            input.AsSpan(0, size).CopyTo(output.AsSpan(DictionarySize));
            written = size;
        }
        else
        {
            ReadOnlySpan<byte> dictionary = _linked ? output.AsSpan(DictionarySize - keep, keep) : default;
            written = LZ4Codec.Decode(input.AsSpan(0, size), output.AsSpan(DictionarySize, maxBlock), dictionary);
            if (written < 0)
            {
                LtxThrow.Format("corrupt lz4 block");
            }
        }
        if (_blockChecksums)
        {
            ReadExactly(sizeBytes, "lz4 block checksum");
        }
        _outputStart = DictionarySize;
        _outputEnd = DictionarySize + written;
        return true;
    }

    private void ReadExactly(Span<byte> destination, string what)
    {
        if (_inner.ReadAtLeast(destination, destination.Length, throwOnEndOfStream: false) != destination.Length)
        {
            LtxThrow.Format($"unexpected end of lz4 frame reading {what}");
        }
    }

    /// <inheritdoc />
    public override void Flush()
    {
    }

    /// <inheritdoc />
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    /// <inheritdoc />
    public override void SetLength(long value) => throw new NotSupportedException();
    /// <inheritdoc />
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            if (_output is not null)
            {
                ArrayPool<byte>.Shared.Return(_output);
                _output = null;
            }
            if (_input is not null)
            {
                ArrayPool<byte>.Shared.Return(_input);
                _input = null;
            }
            if (!_leaveOpen)
            {
                _inner.Dispose();
            }
        }
        base.Dispose(disposing);
    }
}
