namespace Litestream.Ltx;

/// <summary>LTX file names: <c>{minTxid:x16}-{maxTxid:x16}.ltx</c> (ltx <c>FormatFilename</c>/<c>ParseFilename</c>).</summary>
public static class LtxFileName
{
    /// <summary>Length of a well-formed name.</summary>
    public const int Length = 16 + 1 + 16 + 4;

    /// <summary>Formats the name of the file covering <paramref name="minTxid"/>..<paramref name="maxTxid"/>.</summary>
    public static string Format(Txid minTxid, Txid maxTxid) => $"{minTxid}-{maxTxid}.ltx";

    /// <summary>Parses a name; false for anything that is not exactly two 16-hex TXIDs, a dash and ".ltx".</summary>
    public static bool TryParse(ReadOnlySpan<char> name, out Txid minTxid, out Txid maxTxid)
    {
        minTxid = maxTxid = default;
        if (name.Length != Length || name[16] != '-' || !name[33..].SequenceEqual(".ltx"))
        {
            return false;
        }
        // Upstream's regex accepts lowercase hex only.
        foreach (char c in name[..33])
        {
            if (c != '-' && !char.IsAsciiHexDigitLower(c) && !char.IsAsciiDigit(c))
            {
                return false;
            }
        }
        return Txid.TryParse(name[..16], out minTxid) && Txid.TryParse(name[17..33], out maxTxid);
    }
}
