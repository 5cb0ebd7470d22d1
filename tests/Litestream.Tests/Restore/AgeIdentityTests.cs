using Litestream.Restore.Age;

namespace Litestream.Tests.Restore;

/// <summary>Parsing of age identities as v0.3's config held them (age.ParseIdentities per string).</summary>
public class AgeIdentityTests
{
    private const string Key = "AGE-SECRET-KEY-1XA4PFR3HDMN62P6S5UMGSX3G8AU76QXTR89725RNEQ0YX5NCTCXQ4V2W6V";

    [Fact]
    public void ParseAll_CommentsBlankLinesAndSeveralKeys_ReadsEachKey()
        => Assert.Equal(2, AgeIdentity.ParseAll($"# mine\n\n{Key}\r\n  {AgeTestWriter.Identity(AgeTestWriter.NewKey())}  \n").Count);

    [Theory]
    [InlineData("", "no age identity found (expected AGE-SECRET-KEY-1…)")]
    [InlineData("# only a comment", "no age identity found (expected AGE-SECRET-KEY-1…)")]
    [InlineData("age1e5hw84v74aqqurztl8uu9zhye35xc580zcruxfuvde4l7sq0738q2gpnzx", "age identity on line 1 is a recipient (public key age1…), not an identity (AGE-SECRET-KEY-1…)")]
    [InlineData("AGE-PLUGIN-YUBIKEY-1QQQQQQ", "age identity on line 1: plugin identities are not supported")]
    [InlineData("AGE-SECRET-KEY-1XA4PFR3HDMN62P6S5UMGSX3G8AU76QXTR89725RNEQ0YX5NCTCXQ4V2W6W", "age identity on line 1 is not a valid AGE-SECRET-KEY-1… string")]
    [InlineData("\nage-secret-key-1xa4pfr3hdmn62p6s5umgsx3g8au76qxtr89725rneq0yx5nctcxq4v2w6v", "age identity on line 2 is not a valid AGE-SECRET-KEY-1… string")]
    [InlineData("AGE-SECRET-KEY-1xA4PFR3HDMN62P6S5UMGSX3G8AU76QXTR89725RNEQ0YX5NCTCXQ4V2W6V", "age identity on line 1 is not a valid AGE-SECRET-KEY-1… string")]
    [InlineData("AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ", "age identity on line 1 is not a valid AGE-SECRET-KEY-1… string")]
    public void ParseAll_BadInput_SaysWhatWithoutEchoingTheKey(string text, string message)
        => Assert.Equal(message, Assert.Throws<FormatException>(() => AgeIdentity.ParseAll(text)).Message);

    [Fact]
    public void ParseAll_ValidBech32OfWrongLength_SaysTheLength()
    {
        string sixteen = AgeTestWriter.Identity(new byte[16]);
        Assert.Equal("age identity on line 1 holds 16 bytes, expected 32", Assert.Throws<FormatException>(() => AgeIdentity.ParseAll(sixteen)).Message);
    }
}
