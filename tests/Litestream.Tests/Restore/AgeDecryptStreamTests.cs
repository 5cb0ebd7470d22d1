using System.Text;
using Litestream.Restore;
using Litestream.Restore.Age;

namespace Litestream.Tests.Restore;

/// <summary>
/// The age v1 decryptor: vectors made by the real age CLI (age 1.1.1, inline below), chunk boundaries and tampering
/// through <see cref="AgeTestWriter"/>, and every failure one <see cref="AgeDecryptionException"/> naming the file.
/// </summary>
public class AgeDecryptStreamTests
{
    // age-keygen output, verbatim: the identity file a v0.3 config's age: identities entry may hold.
    private const string Key1File = """
        # created: 2026-12-07T00:32:17Z
        # public key: age1p9p3y4fyrq30r0vfyjz2x33w7kmuvm37tn44sz25ly8vn692xd9q3wjnv9
        AGE-SECRET-KEY-13ZQ0W4CK5EKN3Q9YW24V037E6XYQPZ6F5MSGYH4ZFQWZ4KFWCWPQHGK94Q
        """;
    private const string Key2 = "AGE-SECRET-KEY-1XA4PFR3HDMN62P6S5UMGSX3G8AU76QXTR89725RNEQ0YX5NCTCXQ4V2W6V";

    // age -r <key2 recipient> -r <key1 recipient>, plaintext "hello, litestream v0.3 age replica\n".
    private static readonly byte[] s_small = Convert.FromBase64String(
        "YWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSBQMDM1Y1RrR3RmVUEyL0hDa2o1OTJqZjk1Y2h2dk5aT3BBOFQwbzdZL1ZZCi9KSjJCVEU1QlYvY09TV1luUWx6TUxJQVpVY3krSm5MU2xPN204bVhkSDAKLT4gWDI1NTE5IDVOdGovUFF0SjhsaDUyUktQdzExeUd5QlNFUSswQlFKdlM5cUlvVW1IQUUKNWJ2NlltV1hObW5QQndHNld3cDJNdS82L2t3aVRvZDBieFVlbXZUUGQ3awotLS0gVDJub2Y2cmhIbWFtTlNkL2p6dmhzRDhyVWNSQlpObU0rVDdMVW9INlF0awoAHDJFvubnK+qruutb/fGERnsfD9c6NjIv2MCptp3ku9g0YsC1+t3xMEbbpWUyDa3pe2TWmK/7Yt26k0tayT3WYd5N");

    // age -r <key1 recipient>, empty plaintext: one empty chunk flagged last.
    private static readonly byte[] s_empty = Convert.FromBase64String(
        "YWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSBPT0wwaHBESElhdkl1Z0Z5RUFhcWExRm9sSVdON1VyWXZFQ2pOM3ozamc4CmMwbStJWWhZU1lWOGRUOXo3WWNmeEJMcmQvVDFBVVpNRzhVclQxRmFkOWsKLS0tIDZUK1FUdkgzWW1FSzhnS3FEZUxFT1R5WEV4T3BhQ1p3S01sbldGWXkwQXMKl7/EGhUVVDcX45N99alK6FjQfF/B54kdUVkxO8tOv18=");

    // age -R <ssh-ed25519 key> -r <key1 recipient>, plaintext "mixed recipients\n": a stanza of another type is skipped.
    private static readonly byte[] s_mixed = Convert.FromBase64String(
        "YWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSBmNU4vc1lvRVJyYkFGRENtOEpEV3R4bC96OWpMeGtrMVpENmZIUXVjK0UwCkwxZElIRmJ6eUg5VUpRMFc3eFV6WFFrSXc3b2s5bkZvWkw5RUc1anZlZ3MKLT4gc3NoLWVkMjU1MTkgRzR2a3ZRIFdDdkhDM01QZVVOMDh0TnU4SnBXSitmS1J6eUpHRHVTWjNoWUJhdmZZRXMKeVpnbzdWcDdRbmt0L3EzMWNITTM2clB0OHQ0VXN3SmlaL3RZTDFnb3hrbwotLS0gNzJSMHVHRktwYW5tN3dwMnBUQzBJMm5UTTdBS3M1TFppc203ZnlqaENLMAqMCSOL6mogkeUtOQSt12EQ+VOSV0o0UNKZWi1wwEu8im4N/2wA6YDwzaDIhpwALdrD");

    private static async Task<byte[]> DecryptAsync(byte[] file, string identities, int readSize = 81920)
    {
        await using AgeDecryptStream stream = await AgeDecryptStream.OpenAsync(new MemoryStream(file), AgeIdentity.ParseAll(identities), "obj", default);
        using var output = new MemoryStream();
        byte[] buffer = new byte[readSize];
        int n;
        while ((n = await stream.ReadAsync(buffer)) > 0)
        {
            output.Write(buffer, 0, n);
        }
        return output.ToArray();
    }

    private static async Task<string> FailureAsync(byte[] file, string identities)
    {
        AgeDecryptionException e = await Assert.ThrowsAsync<AgeDecryptionException>(() => DecryptAsync(file, identities));
        Assert.StartsWith("cannot decrypt obj: ", e.Message);
        return e.Message["cannot decrypt obj: ".Length..];
    }

    [Fact]
    public async Task CliVector_SecondStanzaIdentityFromKeygenFile_Decrypts()
        => Assert.Equal("hello, litestream v0.3 age replica\n", Encoding.ASCII.GetString(await DecryptAsync(s_small, Key1File)));

    [Fact]
    public async Task CliVector_FirstStanzaIdentity_Decrypts()
        => Assert.Equal("hello, litestream v0.3 age replica\n", Encoding.ASCII.GetString(await DecryptAsync(s_small, Key2)));

    [Fact]
    public async Task CliVector_EmptyPayload_DecryptsToNothing()
        => Assert.Empty(await DecryptAsync(s_empty, Key1File));

    [Fact]
    public async Task CliVector_SshStanzaBesideX25519_IsSkipped()
        => Assert.Equal("mixed recipients\n", Encoding.ASCII.GetString(await DecryptAsync(s_mixed, Key1File)));

    [Fact]
    public async Task CliVector_WrongIdentity_FailsNamingNoMatch()
        => Assert.Equal("no configured age identity matches the file's recipients", await FailureAsync(s_empty, Key2));

    [Fact]
    public async Task CliVector_OtherRecipientsStanzaModified_HeaderMacMismatch()
    {
        // The first stanza is Key2's: Key1 still unwraps its own, but the MAC covers the whole header.
        byte[] file = (byte[])s_small.Clone();
        int at = Encoding.ASCII.GetString(file).IndexOf("P035", StringComparison.Ordinal);
        file[at] = (byte)'Q';
        Assert.Equal("malformed age header: header MAC mismatch (the header was modified)", await FailureAsync(file, Key1File));
    }

    [Fact]
    public async Task CliVector_PayloadByteFlipped_ChunkFailsAuthentication()
    {
        byte[] file = (byte[])s_small.Clone();
        file[^20] ^= 1;
        Assert.Equal("age payload chunk 0 failed authentication (wrong key, or the file was modified)", await FailureAsync(file, Key1File));
    }

    [Fact]
    public async Task CliVector_LastByteCut_FailsAuthentication()
        => Assert.Equal("age payload chunk 0 failed authentication (wrong key, or the file was modified)", await FailureAsync(s_small[..^1], Key1File));

    [Fact]
    public async Task CliVector_TrailingByte_Fails()
    {
        // A short last chunk plus one byte is still a short chunk, which no longer authenticates.
        Assert.Equal("age payload chunk 0 failed authentication (wrong key, or the file was modified)", await FailureAsync([.. s_small, 0], Key1File));
    }

    [Fact]
    public async Task CliVector_HeaderOnly_IsTruncated()
    {
        int header = Encoding.ASCII.GetString(s_small).IndexOf("---", StringComparison.Ordinal);
        int end = Array.IndexOf(s_small, (byte)'\n', header) + 1;
        Assert.Equal("the age payload is truncated", await FailureAsync(s_small[..(end + 16)], Key1File));
        Assert.Equal("the age payload is truncated", await FailureAsync(s_small[..(end + 3)], Key1File));
        Assert.Equal("the age header is truncated", await FailureAsync(s_small[..(end - 5)], Key1File));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(65535)]
    [InlineData(65536)]
    [InlineData(65537)]
    [InlineData(3 * 65536)]
    [InlineData(200_000)]
    public async Task ChunkBoundaries_RoundTripAsyncAndSync(int size)
    {
        byte[] key = AgeTestWriter.NewKey();
        byte[] plaintext = new byte[size];
        new Random(size).NextBytes(plaintext);
        byte[] file = AgeTestWriter.Encrypt(plaintext, key);

        Assert.Equal(plaintext, await DecryptAsync(file, AgeTestWriter.Identity(key), readSize: 1000));
        await using AgeDecryptStream sync = await AgeDecryptStream.OpenAsync(new MemoryStream(file), AgeIdentity.ParseAll(AgeTestWriter.Identity(key)), "obj", default);
        using var output = new MemoryStream();
        sync.CopyTo(output, 7777);
        Assert.Equal(plaintext, output.ToArray());
    }

    [Fact]
    public async Task FullSizeLastChunk_FollowedByData_Fails()
    {
        byte[] key = AgeTestWriter.NewKey();
        byte[] file = AgeTestWriter.Encrypt(new byte[65536], key);
        Assert.Equal("data follows the last age payload chunk", await FailureAsync([.. file, 1], AgeTestWriter.Identity(key)));
    }

    [Fact]
    public async Task MissingLastChunk_IsTruncated()
    {
        // Two chunks; dropping the short last one leaves a full chunk flagged "not last": the payload was cut.
        byte[] key = AgeTestWriter.NewKey();
        byte[] file = AgeTestWriter.Encrypt(new byte[65536 + 10], key);
        Assert.Equal("the age payload is truncated", await FailureAsync(file[..^26], AgeTestWriter.Identity(key)));
    }

    [Fact]
    public async Task ChunksSwapped_FailAuthentication()
    {
        byte[] key = AgeTestWriter.NewKey();
        byte[] plaintext = new byte[3 * 65536 + 5];
        new Random(3).NextBytes(plaintext);
        byte[] file = AgeTestWriter.Encrypt(plaintext, key);
        int second = file.Length - 5 - 16 - 2 * (65536 + 16);
        byte[] swapped = [.. file[..second], .. file[(second + 65552)..(second + 2 * 65552)], .. file[second..(second + 65552)], .. file[(second + 2 * 65552)..]];
        Assert.Equal("age payload chunk 1 failed authentication (wrong key, or the file was modified)", await FailureAsync(swapped, AgeTestWriter.Identity(key)));
    }

    [Theory]
    [InlineData("age-encryption.org/v2\n", "not an age v1 file")]
    [InlineData("age-encryption.org/v1\n--- AAAA\n", "bad MAC line")]
    [InlineData("age-encryption.org/v1\nfoo\n", "expected a stanza or the MAC line")]
    [InlineData("age-encryption.org/v1\n->  X25519\n\n", "malformed stanza argument line")]
    [InlineData("age-encryption.org/v1\n-> X25519 \u00e9\n\n", "malformed stanza argument line")]
    [InlineData("age-encryption.org/v1\n-> X25519 AAAA\nAAA=\n", "stanza body is not canonical base64")]
    [InlineData("age-encryption.org/v1\n-> X25519 AAAA\nAB\n", "stanza body is not canonical base64")]
    [InlineData("age-encryption.org/v1\n-> x\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n", "stanza body line longer than 64 columns")]
    [InlineData("age-encryption.org/v1\n-> X25519 AAAA\n\n--- 6T+QTvH3YmEK8gKqDeLEOTyXExOpaCZwKMlnWFYy0As\n", "malformed X25519 stanza: ephemeral share is not 32 bytes")]
    public async Task MalformedHeader_FailsWithWhatIsWrong(string header, string what)
        => Assert.Equal($"malformed age header: {what}".Replace("malformed age header: malformed X25519", "malformed X25519", StringComparison.Ordinal),
            await FailureAsync(Encoding.UTF8.GetBytes(header + new string('\n', 100)), Key1File));

    [Fact]
    public async Task EndlessHeader_StopsAtTheCap()
    {
        var header = new StringBuilder("age-encryption.org/v1\n");
        while (header.Length < 70_000)
        {
            header.Append("-> grease\n\n");
        }
        Assert.Equal("malformed age header: more than 256 recipient stanzas", await FailureAsync(Encoding.ASCII.GetBytes(header.ToString()), Key1File));
        string oneLine = "age-encryption.org/v1\n-> " + new string('a', 70_000);
        Assert.Equal("malformed age header: header larger than 65536 bytes", await FailureAsync(Encoding.ASCII.GetBytes(oneLine), Key1File));
    }

    [Fact]
    public async Task LowOrderShare_IsRejected()
    {
        // The all-zero point gives the all-zero shared secret.
        string header = "age-encryption.org/v1\n-> X25519 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n--- AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n";
        Assert.Equal("malformed X25519 stanza: low-order ephemeral share", await FailureAsync(Encoding.ASCII.GetBytes(header), Key1File));
    }
}
