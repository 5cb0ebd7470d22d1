namespace Litestream.Ltx.Tests;

/// <summary>VECTORS.md §3 (ltx <c>TestHeader_Validate</c>) and the 100-byte layout.</summary>
public class LtxHeaderTests
{
    private static readonly LtxHeader s_valid = new()
    {
        PageSize = 1024,
        Commit = 2,
        MinTxid = new Txid(3),
        MaxTxid = new Txid(4),
        PreApplyChecksum = LtxConstants.ChecksumFlag,
        WalSalt1 = 5,
        WalSalt2 = 6,
        WalOffset = 7,
        WalSize = 8,
    };

    public static TheoryData<LtxHeader, string> InvalidHeaders()
    {
        LtxHeader basic = new() { PageSize = 1024, MinTxid = new Txid(1), MaxTxid = new Txid(1) };
        return new TheoryData<LtxHeader, string>
        {
            { s_valid with { Flags = 1 << 3 }, "invalid flags: 0x00000008" },
            { s_valid with { Flags = 100 }, "invalid flags: 0x00000064" },
            { s_valid with { PageSize = 1000 }, "invalid page size: 1000" },
            { s_valid with { MinTxid = Txid.Zero }, "minimum transaction id required" },
            { s_valid with { MinTxid = new Txid(3), MaxTxid = Txid.Zero }, "maximum transaction id required" },
            { s_valid with { MinTxid = new Txid(3), MaxTxid = new Txid(2) }, "transaction ids out of order: (3,2)" },
            { basic with { WalOffset = -1000 }, "wal offset cannot be negative: -1000" },
            { basic with { WalOffset = 32, WalSize = -1000 }, "wal size cannot be negative: -1000" },
            { basic with { WalSalt1 = 100 }, "wal offset required if salt exists" },
            { basic with { WalSize = 1000 }, "wal offset required if wal size exists" },
            { basic with { PreApplyChecksum = 1 }, "pre-apply checksum must be zero on snapshots" },
            { basic with { MinTxid = new Txid(2), MaxTxid = new Txid(2) }, "pre-apply checksum required on non-snapshot files" },
            { basic with { MinTxid = new Txid(2), MaxTxid = new Txid(2), PreApplyChecksum = 1 }, "invalid pre-apply checksum format" },
            { basic with { Flags = LtxConstants.HeaderFlagNoChecksum, MinTxid = new Txid(2), MaxTxid = new Txid(2), PreApplyChecksum = LtxConstants.ChecksumFlag }, "pre-apply checksum not allowed" },
            { basic with { Flags = 1 }, "invalid flags: 0x00000001 (0x1 is the ltx v1 compression flag; ltx v1 files are not supported)" },
        };
    }

    [Theory]
    [MemberData(nameof(InvalidHeaders))]
    public void Validate_InvalidHeader_UpstreamMessage(LtxHeader header, string message)
        => Assert.Equal(message, Assert.Throws<LtxFormatException>(header.Validate).Message);

    [Fact]
    public void Validate_UpstreamValidHeaders_Pass()
    {
        s_valid.Validate();
        (s_valid with { Commit = 0, MinTxid = new Txid(5), MaxTxid = new Txid(5), WalSalt1 = 0, WalSalt2 = 0, WalOffset = 0, WalSize = 0 }).Validate();
        (s_valid with { Flags = LtxConstants.HeaderFlagNoChecksum, PreApplyChecksum = 0 }).Validate();
    }

    [Fact]
    public void WriteRead_AllFields_RoundTripAtSpecOffsets()
    {
        var header = new LtxHeader
        {
            Flags = LtxConstants.HeaderFlagNoChecksum,
            PageSize = 4096,
            Commit = 0x01020304,
            MinTxid = new Txid(0x1112131415161718),
            MaxTxid = new Txid(0x2122232425262728),
            Timestamp = -5,
            PreApplyChecksum = 0x3132333435363738,
            WalOffset = 0x4142434445464748,
            WalSize = 0x5152535455565758,
            WalSalt1 = 0x61626364,
            WalSalt2 = 0x71727374,
            NodeId = 0x8182838485868788,
        };
        byte[] bytes = Enumerable.Repeat((byte)0xee, 120).ToArray();
        header.Write(bytes);
        Assert.Equal("LTX1"u8.ToArray(), bytes[..4]);
        Assert.Equal("000000020000100001020304", Convert.ToHexString(bytes, 4, 12));
        Assert.Equal("1112131415161718", Convert.ToHexString(bytes, 16, 8));
        Assert.Equal("FFFFFFFFFFFFFFFB", Convert.ToHexString(bytes, 32, 8));
        Assert.Equal("6162636471727374", Convert.ToHexString(bytes, 64, 8));
        Assert.Equal("8182838485868788", Convert.ToHexString(bytes, 72, 8));
        Assert.All(bytes[80..100], b => Assert.Equal(0, b));
        Assert.Equal(0xee, bytes[100]);
        Assert.Equal(header, LtxHeader.Read(bytes));
    }

    [Fact]
    public void TryRead_ShortOrBadMagic_ReturnsFalse()
    {
        byte[] bytes = new byte[100];
        s_valid.Write(bytes);
        Assert.False(LtxHeader.TryRead(bytes.AsSpan(0, 99), out _));
        bytes[3] = (byte)'2';
        Assert.False(LtxHeader.TryRead(bytes, out _));
        Assert.Equal("invalid ltx file: bad magic", Assert.Throws<LtxFormatException>(() => LtxHeader.Read(bytes)).Message);
        Assert.Equal("short ltx header: 99 bytes, need 100", Assert.Throws<LtxFormatException>(() => LtxHeader.Read(bytes.AsSpan(0, 99))).Message);
    }

    [Theory]
    [InlineData(1UL, true)]
    [InlineData(2UL, false)]
    public void IsSnapshot_MinTxidOne(ulong min, bool snapshot)
        => Assert.Equal(snapshot, (s_valid with { MinTxid = new Txid(min) }).IsSnapshot);

    [Fact]
    public void CreatedAt_OutOfRangeTimestamp_Clamped()
    {
        Assert.Equal(DateTimeOffset.MaxValue.ToUnixTimeMilliseconds(), (s_valid with { Timestamp = long.MaxValue }).CreatedAt.ToUnixTimeMilliseconds());
        Assert.Equal(new DateTimeOffset(2023, 11, 14, 22, 13, 20, TimeSpan.Zero), (s_valid with { Timestamp = 1700000000000 }).CreatedAt);
    }
}

/// <summary>VECTORS.md §3 trailer rules (ltx <c>TestTrailer_Validate</c>) and §2 L6.</summary>
public class LtxTrailerTests
{
    [Theory]
    [InlineData(true, 1UL, 0x8000000000000001UL, "post-apply checksum not allowed")]
    [InlineData(false, 0UL, 0x8000000000000001UL, "post-apply checksum required")]
    [InlineData(false, 1UL, 0x8000000000000001UL, "invalid post-apply checksum format")]
    [InlineData(true, 0UL, 0UL, "file checksum required")]
    [InlineData(true, 0UL, 1UL, "invalid file checksum format")]
    public void Validate_Invalid_UpstreamMessage(bool noChecksum, ulong post, ulong file, string message)
        => Assert.Equal(message, Assert.Throws<LtxFormatException>(() => new LtxTrailer(post, file).Validate(noChecksum)).Message);

    [Fact]
    public void WriteRead_RoundTrip()
    {
        var trailer = new LtxTrailer(0xe1899b6d587aaaaa, 0xf2f5bf19c408f15a);
        trailer.Validate(noChecksum: false);
        byte[] bytes = new byte[16];
        trailer.Write(bytes);
        Assert.Equal("E1899B6D587AAAAAF2F5BF19C408F15A", Convert.ToHexString(bytes));
        Assert.Equal(trailer, LtxTrailer.Read(bytes));
        Assert.Equal("short ltx trailer: 15 bytes, need 16", Assert.Throws<LtxFormatException>(() => LtxTrailer.Read(bytes.AsSpan(1))).Message);
    }
}

public class LtxPageHeaderTests
{
    [Theory]
    [InlineData(1u, (ushort)4, "invalid page header flags: 0x0004")]
    [InlineData(0u, (ushort)0, "page number required")]
    public void Validate_Invalid_UpstreamMessage(uint pgno, ushort flags, string message)
        => Assert.Equal(message, Assert.Throws<LtxFormatException>(new LtxPageHeader(pgno, flags).Validate).Message);

    [Fact]
    public void WriteRead_RoundTripAndEndMarker()
    {
        byte[] bytes = new byte[6];
        new LtxPageHeader(0x01020304, LtxConstants.PageHeaderFlagSize).Write(bytes);
        Assert.Equal("010203040001", Convert.ToHexString(bytes));
        LtxPageHeader header = LtxPageHeader.Read(bytes);
        Assert.True(header.HasSizePrefix);
        Assert.False(header.IsEndMarker);
        Assert.True(LtxPageHeader.Read(new byte[6]).IsEndMarker);
        Assert.False(LtxPageHeader.TryRead(bytes.AsSpan(0, 5), out _));
    }
}

/// <summary>VECTORS.md §2 L3, L4.</summary>
public class LtxConstantsTests
{
    [Theory]
    [InlineData(4096u, 262145u)]
    [InlineData(512u, 2097153u)]
    [InlineData(1024u, 1048577u)]
    [InlineData(65536u, 16385u)]
    public void LockPgno_PageSizes(uint pageSize, uint lockPgno) => Assert.Equal(lockPgno, LtxConstants.LockPgno(pageSize));

    [Theory]
    [InlineData(512u, true)]
    [InlineData(1024u, true)]
    [InlineData(2048u, true)]
    [InlineData(4096u, true)]
    [InlineData(8192u, true)]
    [InlineData(16384u, true)]
    [InlineData(32768u, true)]
    [InlineData(65536u, true)]
    [InlineData(0u, false)]
    [InlineData(256u, false)]
    [InlineData(1000u, false)]
    [InlineData(131072u, false)]
    public void IsValidPageSize_PowersOfTwoFrom512To65536(uint pageSize, bool valid)
        => Assert.Equal(valid, LtxConstants.IsValidPageSize(pageSize));
}

/// <summary>VECTORS.md §4: text forms of TXIDs, positions, file names and timestamps.</summary>
public class LtxTextFormatTests
{
    [Fact]
    public void LtxFileName_FormatAndParse()
    {
        Assert.Equal("0000000000000001-00000000000003e8.ltx", LtxFileName.Format(new Txid(1), new Txid(1000)));
        Assert.True(LtxFileName.TryParse("0000000000000001-00000000000003e8.ltx", out Txid min, out Txid max));
        Assert.Equal((new Txid(1), new Txid(1000)), (min, max));
    }

    [Theory]
    [InlineData("000000000000000z-00000000000003e8.ltx")]
    [InlineData("0000000000000001.ltx")]
    [InlineData("0000000000000001-00000000000003e8.zzz")]
    [InlineData("0000000000000001-00000000000003E8.ltx")]
    [InlineData("0000000000000001_00000000000003e8.ltx")]
    [InlineData("0000000000000001-00000000000003e8.ltx.tmp")]
    [InlineData("")]
    public void LtxFileName_TryParse_RejectsMalformed(string name) => Assert.False(LtxFileName.TryParse(name, out _, out _));

    [Fact]
    public void LtxPosition_StringAndParse()
    {
        var pos = new LtxPosition(new Txid(1000), 2000);
        Assert.Equal("00000000000003e8/00000000000007d0", pos.ToString());
        Assert.True(LtxPosition.TryParse("00000000000003e8/00000000000007d0", out LtxPosition parsed));
        Assert.Equal(pos, parsed);
        Assert.False(LtxPosition.TryParse("00000000000003e8/00000000000007d", out _));
        Assert.False(LtxPosition.TryParse("00000000000003e8-00000000000007d0", out _));
    }

    [Fact]
    public void Txid_Parse_TwelveChars_UpstreamMessage()
        => Assert.Equal("invalid formatted transaction id length", Assert.Throws<FormatException>(() => Txid.Parse("000000000e38")).Message);

    [Theory]
    [InlineData(0UL, 1UL, 10UL, true)]
    [InlineData(11UL, 11UL, 12UL, true)]
    [InlineData(10UL, 5UL, 12UL, true)]
    [InlineData(10UL, 12UL, 12UL, false)]
    [InlineData(10UL, 5UL, 10UL, false)]
    public void Txid_IsContiguous(ulong prevMax, ulong min, ulong max, bool contiguous)
        => Assert.Equal(contiguous, Txid.IsContiguous(new Txid(prevMax), new Txid(min), new Txid(max)));

    [Fact]
    public void LtxTimestamp_Format_NormalisedUtcMilliseconds()
    {
        DateTimeOffset time = new DateTimeOffset(2000, 10, 20, 0, 0, 0, TimeSpan.Zero).AddHours(30).AddMinutes(40).AddSeconds(50).AddMilliseconds(123);
        Assert.Equal("2000-10-21T06:40:50.123Z", LtxTimestamp.Format(time));
        Assert.Equal("2000-10-21T06:40:50.000Z", LtxTimestamp.Format(new DateTimeOffset(2000, 10, 21, 6, 40, 50, TimeSpan.Zero).AddTicks(1230)));
        Assert.Equal("2000-10-21T06:40:50.123Z", LtxTimestamp.Format(time.ToOffset(TimeSpan.FromHours(2))));
    }

    [Theory]
    [InlineData("2000-10-21T06:40:50Z", 0)]
    [InlineData("2000-10-21T06:40:50.000123Z", 0)]
    [InlineData("2000-10-21T06:40:50.123456789Z", 123)]
    [InlineData("2000-10-21T08:40:50.5+02:00", 500)]
    [InlineData("2000-10-21T06:40:50.999999999999999999Z", 999)]
    public void LtxTimestamp_TryParse_TruncatedToMilliseconds(string text, int milliseconds)
    {
        Assert.True(LtxTimestamp.TryParse(text, out DateTimeOffset time));
        Assert.Equal(new DateTimeOffset(2000, 10, 21, 6, 40, 50, milliseconds, TimeSpan.Zero), time);
        Assert.Equal(TimeSpan.Zero, time.Offset);
    }

    [Theory]
    [InlineData("2000-10-21 06:40:50Z")]
    [InlineData("2000-10-21T06:40:50")]
    [InlineData("yesterday")]
    [InlineData("2000-10-21T06:40:50+0200")]
    public void LtxTimestamp_TryParse_RejectsNonRfc3339(string text) => Assert.False(LtxTimestamp.TryParse(text, out _));
}
