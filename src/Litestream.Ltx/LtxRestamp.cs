using System.Buffers;

namespace Litestream.Ltx;

/// <summary>
/// Copies an LTX file with another header NodeID (<see cref="LtxNodeId"/>): pages, WAL fields and checksums as they
/// were, the file checksum recomputed. The input is fully verified on the way, so a damaged file is never restamped.
/// </summary>
public static class LtxRestamp
{
    /// <summary>Writes <paramref name="input"/> to <paramref name="output"/> with NodeID <paramref name="nodeId"/>; returns the new header.</summary>
    public static LtxHeader Copy(Stream input, Stream output, ulong nodeId)
    {
        using var decoder = new LtxDecoder(input, leaveOpen: true) { KeepPageIndex = false };
        LtxHeader header = decoder.DecodeHeader() with { NodeId = nodeId };
        byte[] page = ArrayPool<byte>.Shared.Rent((int)header.PageSize);
        try
        {
            using var encoder = new LtxEncoder(output, leaveOpen: true);
            encoder.EncodeHeader(header);
            Span<byte> buffer = page.AsSpan(0, (int)header.PageSize);
            while (decoder.TryDecodePage(buffer, out LtxPageHeader pageHeader))
            {
                encoder.EncodePage(pageHeader.Pgno, buffer);
            }
            encoder.Close(decoder.Close().PostApplyChecksum);
            return header;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(page);
        }
    }
}
