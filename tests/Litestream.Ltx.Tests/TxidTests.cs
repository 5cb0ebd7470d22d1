namespace Litestream.Ltx.Tests;

public class TxidTests
{
    [Theory]
    [InlineData(0UL, "0000000000000000")]
    [InlineData(1000UL, "00000000000003e8")]
    [InlineData(ulong.MaxValue, "ffffffffffffffff")]
    public void ToString_Value_SixteenLowercaseHexDigits(ulong value, string expected)
        => Assert.Equal(expected, new Txid(value).ToString());

    [Fact]
    public void TryParse_TwelveChars_ReturnsFalse()
        => Assert.False(Txid.TryParse("000000000e38", out _));

    [Fact]
    public void Parse_SixteenHex_RoundTrips()
        => Assert.Equal(new Txid(0x3e8), Txid.Parse("00000000000003e8"));
}
