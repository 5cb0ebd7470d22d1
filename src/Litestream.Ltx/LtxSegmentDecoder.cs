using Litestream.Ltx.Buffers;

namespace Litestream.Ltx;

/// <summary>
/// Decodes one segment of a file planned by <see cref="LtxFrameSegments"/>: its input holds exactly the bytes
/// from <see cref="LtxFrameSegment.Offset"/> to <see cref="LtxFrameSegment.End"/>. <see cref="TryDecodePage"/>
/// returns false at the segment's end (after the end marker in the last segment); then <see cref="Finish"/>
/// checks the frames against the index and returns the segment's share of the checksums. Page order and
/// bounds are checked as for a whole file (<see cref="LtxDecoder"/>).
/// </summary>
public sealed class LtxSegmentDecoder : IDisposable
{
    private readonly Stream _input;
    private readonly bool _leaveOpen;
    private readonly StreamSource _source;
    private readonly LtxHeader _header;
    private readonly LtxFrameSegment _segment;
    private readonly LtxFrameReader _frames;
    private bool _atEnd;
    private bool _finished;

    /// <summary>Creates a decoder for <paramref name="segment"/> of a file with <paramref name="header"/> (an encrypted one opened with <paramref name="keys"/>).</summary>
    public LtxSegmentDecoder(Stream input, LtxHeader header, LtxFrameSegment segment, bool leaveOpen = false, LtxKeyRing? keys = null)
    {
        _input = input ?? throw new ArgumentNullException(nameof(input));
        _leaveOpen = leaveOpen;
        _header = header;
        _segment = segment;
        _source = new StreamSource(input, segment.Offset);
        _frames = new LtxFrameReader(_source, header, crc: 0, segment.PreviousPgno, keys);
    }

    /// <summary>
    /// Decodes the segment's next page into <paramref name="page"/> (exactly PageSize bytes). Returns false at
    /// the segment's end, after which only <see cref="Finish"/> is valid.
    /// </summary>
    public bool TryDecodePage(Span<byte> page, out LtxPageHeader pageHeader)
    {
        RequireState(atEnd: false, "decode page");
        if (page.Length != _header.PageSize)
        {
            throw new ArgumentException($"page buffer is {page.Length} bytes, expected {_header.PageSize}", nameof(page));
        }
        // A segment's pages were checked against the whole index (a snapshot's end included) when the
        // segments were planned.
        if ((!_segment.IsLast && _source.Position >= _segment.End) || !_frames.TryRead(page, out pageHeader, out _))
        {
            pageHeader = default;
            _atEnd = true;
            return false;
        }
        return true;
    }

    /// <summary>
    /// Ends the segment after <see cref="TryDecodePage"/> returned false: checks that the frames were exactly
    /// the segment's index entries and that the input ended with the segment, and returns what
    /// <see cref="LtxFrameSegments.Verify"/> needs.
    /// </summary>
    /// <exception cref="LtxFormatException">The frames differ from the index or the input holds more than the segment.</exception>
    public LtxSegmentChecksum Finish()
    {
        RequireState(atEnd: true, "finish segment");
        LtxFrameSegment segment = _segment;
        if (_source.Position != segment.End || _source.ReadByte() >= 0)
        {
            LtxThrow.Format($"segment {segment.Offset}-{segment.End} does not end where its frames end ({_source.Position})");
        }
        if (_frames.FrameCount != segment.PageCount || _frames.FrameHash != segment.FrameHash)
        {
            LtxThrow.Format(_frames.FrameCount != segment.PageCount
                ? $"page index mismatch: it lists {segment.PageCount} pages at {segment.Offset}-{segment.End}, the file holds {_frames.FrameCount} page frames there"
                : $"page index mismatch: its pages, offsets or sizes differ from the page frames at {segment.Offset}-{segment.End}");
        }
        _finished = true;
        _frames.Dispose();
        return new LtxSegmentChecksum(_frames.Crc, _frames.HashedLength, _frames.DatabaseChecksum);
    }

    /// <summary>Returns rented buffers (and disposes the stream unless leaveOpen). Idempotent.</summary>
    public void Dispose()
    {
        _finished = true;
        _frames.Dispose();
        _source.Dispose();
        if (!_leaveOpen)
        {
            _input.Dispose();
        }
    }

    private void RequireState(bool atEnd, string action)
    {
        if (_finished || _atEnd != atEnd)
        {
            throw new InvalidOperationException(_finished ? $"cannot {action}: decoder closed"
                : _atEnd ? $"cannot {action}: the segment's pages are all decoded"
                : $"cannot {action}: the segment's pages are not all decoded");
        }
    }
}
