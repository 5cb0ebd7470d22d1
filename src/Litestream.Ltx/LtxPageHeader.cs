using System.Buffers.Binary;

namespace Litestream.Ltx;

/// <summary>The 6-byte header in front of every page frame (LTX.md §3); all zeros marks the end of the pages.</summary>
public readonly record struct LtxPageHeader
{
    /// <summary>Size in bytes.</summary>
    public const int Size = LtxConstants.PageHeaderSize;

    /// <summary>Creates a page header.</summary>
    public LtxPageHeader(uint pgno, ushort flags)
    {
        Pgno = pgno;
        Flags = flags;
    }

    /// <summary>1-based page number; 0 only in the end marker.</summary>
    public uint Pgno { get; init; }

    /// <summary>Page flags; <see cref="LtxConstants.PageHeaderFlagSize"/> selects the LZ4 block encoding.</summary>
    public ushort Flags { get; init; }

    /// <summary>True for the six-zero-byte end marker.</summary>
    public bool IsEndMarker => Pgno == 0 && Flags == 0;

    /// <summary>True when the payload is a size-prefixed LZ4 block (else a legacy LZ4 frame).</summary>
    public bool HasSizePrefix => (Flags & LtxConstants.PageHeaderFlagSize) != 0;

    /// <summary>Reads 6 bytes; false when the span is short.</summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out LtxPageHeader header)
    {
        header = default;
        if (source.Length < Size)
        {
            return false;
        }
        header = new LtxPageHeader(
            BinaryPrimitives.ReadUInt32BigEndian(source[LtxLayout.PagePgno..]),
            BinaryPrimitives.ReadUInt16BigEndian(source[LtxLayout.PageFlags..]));
        return true;
    }

    /// <summary>Reads 6 bytes or throws <see cref="LtxFormatException"/>.</summary>
    public static LtxPageHeader Read(ReadOnlySpan<byte> source)
        => TryRead(source, out LtxPageHeader header) ? header : LtxThrow.Format<LtxPageHeader>($"short page header: {source.Length} bytes");

    /// <summary>Writes the 6 bytes.</summary>
    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination[LtxLayout.PagePgno..], Pgno);
        BinaryPrimitives.WriteUInt16BigEndian(destination[LtxLayout.PageFlags..], Flags);
    }

    /// <summary>Checks the page number and flags (ltx <c>PageHeader.Validate</c>).</summary>
    public void Validate()
    {
        if (Pgno == 0)
        {
            LtxThrow.Format("page number required");
        }
        if ((Flags & ~LtxConstants.PageHeaderFlagMask) != 0)
        {
            LtxThrow.Format($"invalid page header flags: 0x{Flags:x4}");
        }
    }
}
