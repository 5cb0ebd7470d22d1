using Litestream.Storage.Nats;
using NATS.NKeys;

namespace Litestream.Tests.Storage;

/// <summary>Our nkey seed decoding and signing against NATS.NKeys (the reference the server's nkeys agree with).</summary>
public sealed class NatsUserSeedTests
{
    [Fact]
    public void Parse_UserSeed_SamePublicKeyAndSignatureAsNatsNKeys()
    {
        for (int i = 0; i < 20; i++)
        {
            using KeyPair pair = KeyPair.CreatePair(PrefixByte.User);
            NatsUserSeed ours = NatsUserSeed.Parse(pair.GetSeed());
            Assert.Equal(pair.GetPublicKey(), ours.PublicKey());
            byte[] nonce = System.Text.Encoding.UTF8.GetBytes($"server-nonce-{i}");
            byte[] expected = new byte[64];
            pair.Sign(nonce, expected);
            // Ed25519 signatures are deterministic: the same key signs the same bytes identically.
            Assert.Equal(expected, ours.Sign(nonce));
        }
    }

    [Fact]
    public void Parse_AccountSeed_Refused()
    {
        using KeyPair account = KeyPair.CreatePair(PrefixByte.Account);
        Assert.Throws<FormatException>(() => NatsUserSeed.Parse(account.GetSeed()));
    }

    [Fact]
    public void Parse_OneCharacterChanged_ChecksumRefuses()
    {
        using KeyPair pair = KeyPair.CreatePair(PrefixByte.User);
        string seed = pair.GetSeed();
        string changed = seed[..10] + (seed[10] == 'A' ? 'B' : 'A') + seed[11..];
        Assert.Throws<FormatException>(() => NatsUserSeed.Parse(changed));
        Assert.Throws<FormatException>(() => NatsUserSeed.Parse("SU-not-base32"));
    }
}
