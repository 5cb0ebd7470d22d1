using System.Buffers;

namespace Litestream.Ltx;

/// <summary>
/// Copies an LTX file with another header NodeID (<see cref="LtxNodeId"/>) and/or decrypted or encrypted
/// (docs/ENCRYPTION.md): the same pages, WAL fields and post-apply checksum, the file checksum recomputed. The input
/// is fully verified on the way, so a damaged file is never rewritten into a valid-looking one.
/// </summary>
public static class LtxRewrite
{
    /// <summary>
    /// Writes <paramref name="input"/> (opened with <paramref name="keys"/> when encrypted) to <paramref name="output"/>
    /// with NodeID <paramref name="nodeId"/> (null: as it was), encrypted under <paramref name="cipher"/> (null:
    /// plain). Returns the header written.
    /// </summary>
    public static LtxHeader Copy(Stream input, Stream output, ulong? nodeId, LtxKeyRing? keys = null, LtxPageCipher? cipher = null)
    {
        using var decoder = new LtxDecoder(input, leaveOpen: true) { KeepPageIndex = false, Keys = keys };
        LtxHeader header = decoder.DecodeHeader();
        header = header with { NodeId = nodeId ?? header.NodeId };
        byte[] page = ArrayPool<byte>.Shared.Rent((int)header.PageSize);
        try
        {
            using var encoder = new LtxEncoder(output, leaveOpen: true) { Cipher = cipher };
            encoder.EncodeHeader(header);
            Span<byte> buffer = page.AsSpan(0, (int)header.PageSize);
            while (decoder.TryDecodePage(buffer, out LtxPageHeader pageHeader))
            {
                encoder.EncodePage(pageHeader.Pgno, buffer);
            }
            encoder.Close(decoder.Close().PostApplyChecksum);
            return encoder.Header;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(page);
        }
    }
}
