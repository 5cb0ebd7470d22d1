using System.Globalization;

namespace Litestream.Ltx;

/// <summary>
/// A Litestream transaction id: a monotonically increasing 64-bit counter, one per synced WAL batch.
/// Always printed as 16 lowercase hex digits (ltx <c>TXID.String</c>).
/// </summary>
/// <param name="Value">The raw counter; 0 means "none".</param>
public readonly record struct Txid(ulong Value) : IComparable<Txid>, ISpanFormattable
{
    /// <summary>Length of the textual form.</summary>
    public const int FormattedLength = 16;

    /// <summary>The zero TXID ("no transaction").</summary>
    public static Txid Zero => default;

    /// <summary>True when this is TXID 0.</summary>
    public bool IsZero => Value == 0;

    /// <inheritdoc />
    public int CompareTo(Txid other) => Value.CompareTo(other.Value);

    /// <summary>16 lowercase hex digits, e.g. <c>00000000000003e8</c>.</summary>
    public override string ToString() => Value.ToString("x16", CultureInfo.InvariantCulture);

    /// <inheritdoc />
    public string ToString(string? format, IFormatProvider? formatProvider) => ToString();

    /// <inheritdoc />
    public bool TryFormat(Span<char> destination, out int charsWritten, ReadOnlySpan<char> format, IFormatProvider? provider)
        => Value.TryFormat(destination, out charsWritten, "x16", CultureInfo.InvariantCulture);

    /// <summary>Parses exactly 16 hex digits (either case); anything else fails.</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out Txid txid)
    {
        txid = default;
        if (text.Length != FormattedLength)
        {
            return false;
        }
        foreach (char c in text)
        {
            if (!char.IsAsciiHexDigit(c))
            {
                return false;
            }
        }
        ulong value = ulong.Parse(text, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
        txid = new Txid(value);
        return true;
    }

    /// <summary>Parses exactly 16 hex digits or throws <see cref="FormatException"/>.</summary>
    public static Txid Parse(ReadOnlySpan<char> text)
        => TryParse(text, out Txid txid) ? txid : throw new FormatException("invalid formatted transaction id length");

    /// <summary>
    /// True when a file covering <paramref name="minTxid"/>..<paramref name="maxTxid"/> can be applied to
    /// a database at <paramref name="previousMaxTxid"/>: it starts at or before the next TXID and moves
    /// past the current one (ltx <c>IsContiguous</c>; overlap allowed, gaps not).
    /// </summary>
    public static bool IsContiguous(Txid previousMaxTxid, Txid minTxid, Txid maxTxid)
        => minTxid.Value <= previousMaxTxid.Value + 1 && maxTxid > previousMaxTxid;

    /// <summary>Compares by value.</summary>
    public static bool operator <(Txid left, Txid right) => left.Value < right.Value;
    /// <summary>Compares by value.</summary>
    public static bool operator >(Txid left, Txid right) => left.Value > right.Value;
    /// <summary>Compares by value.</summary>
    public static bool operator <=(Txid left, Txid right) => left.Value <= right.Value;
    /// <summary>Compares by value.</summary>
    public static bool operator >=(Txid left, Txid right) => left.Value >= right.Value;
}
