namespace Litestream.Ltx;

/// <summary>
/// A replication position: the last applied TXID and the database checksum after it
/// (ltx <c>Pos</c>). Prints as <c>%016x/%016x</c>.
/// </summary>
/// <param name="Txid">Last applied transaction.</param>
/// <param name="PostApplyChecksum">Database checksum after that transaction; 0 when not tracked.</param>
public readonly record struct LtxPosition(Txid Txid, ulong PostApplyChecksum)
{
    /// <summary>Formats as <c>txid/checksum</c>, both 16 lowercase hex digits.</summary>
    public override string ToString() => $"{Txid}/{PostApplyChecksum:x16}";

    /// <summary>Parses the 33-character form written by <see cref="ToString"/>.</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out LtxPosition position)
    {
        position = default;
        if (text.Length != 33 || text[16] != '/'
            || !Txid.TryParse(text[..16], out Txid txid) || !Txid.TryParse(text[17..], out Txid checksum))
        {
            return false;
        }
        position = new LtxPosition(txid, checksum.Value);
        return true;
    }
}
