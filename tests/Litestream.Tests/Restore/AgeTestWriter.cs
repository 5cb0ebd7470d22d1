using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Curve25519 = Org.BouncyCastle.Math.EC.Rfc7748.X25519;

namespace Litestream.Tests.Restore;

/// <summary>
/// A minimal age v1 encryptor to X25519 recipients, written from the spec (age-encryption.org/v1) for the cases the
/// real CLI vectors cannot cover inline: chunk boundaries, multi-chunk files, targeted tampering. Keys are raw
/// 32-byte scalars; <see cref="Identity"/> gives their AGE-SECRET-KEY-1 form.
/// </summary>
internal static class AgeTestWriter
{
    private const string Charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

    public static byte[] NewKey() => RandomNumberGenerator.GetBytes(32);

    public static byte[] PublicKey(byte[] secret)
    {
        byte[] pub = new byte[32];
        Curve25519.ScalarMultBase(secret, 0, pub, 0);
        return pub;
    }

    /// <summary><paramref name="plaintext"/> encrypted to the recipients whose secrets are <paramref name="recipientSecrets"/>.</summary>
    public static byte[] Encrypt(byte[] plaintext, params byte[][] recipientSecrets)
    {
        byte[] fileKey = RandomNumberGenerator.GetBytes(16);
        var header = new StringBuilder("age-encryption.org/v1\n");
        foreach (byte[] secret in recipientSecrets)
        {
            byte[] recipient = PublicKey(secret);
            byte[] ephemeral = NewKey();
            byte[] share = PublicKey(ephemeral);
            byte[] shared = new byte[32];
            Curve25519.ScalarMult(ephemeral, 0, recipient, 0, shared, 0);
            byte[] wrapKey = HKDF.DeriveKey(HashAlgorithmName.SHA256, shared, 32, [.. share, .. recipient], "age-encryption.org/v1/X25519"u8.ToArray());
            byte[] body = new byte[32];
            using (var aead = new ChaCha20Poly1305(wrapKey))
            {
                aead.Encrypt(new byte[12], fileKey, body.AsSpan(0, 16), body.AsSpan(16));
            }
            header.Append("-> X25519 ").Append(B64(share)).Append('\n').Append(B64(body)).Append('\n');
        }
        header.Append("---");
        byte[] macKey = HKDF.DeriveKey(HashAlgorithmName.SHA256, fileKey, 32, [], "header"u8.ToArray());
        byte[] mac = HMACSHA256.HashData(macKey, Encoding.ASCII.GetBytes(header.ToString()));
        header.Append(' ').Append(B64(mac)).Append('\n');

        using var output = new MemoryStream();
        output.Write(Encoding.ASCII.GetBytes(header.ToString()));
        byte[] nonce = RandomNumberGenerator.GetBytes(16);
        output.Write(nonce);
        byte[] payloadKey = HKDF.DeriveKey(HashAlgorithmName.SHA256, fileKey, 32, nonce, "payload"u8.ToArray());
        using var stream = new ChaCha20Poly1305(payloadKey);
        const int chunk = 64 * 1024;
        ulong counter = 0;
        int offset = 0;
        do
        {
            int length = Math.Min(chunk, plaintext.Length - offset);
            bool last = offset + length == plaintext.Length;
            byte[] chunkNonce = new byte[12];
            BinaryPrimitives.WriteUInt64BigEndian(chunkNonce.AsSpan(3), counter++);
            chunkNonce[11] = last ? (byte)1 : (byte)0;
            byte[] sealedChunk = new byte[length + 16];
            stream.Encrypt(chunkNonce, plaintext.AsSpan(offset, length), sealedChunk.AsSpan(0, length), sealedChunk.AsSpan(length));
            output.Write(sealedChunk);
            offset += length;
            if (last)
            {
                break;
            }
        }
        while (true);
        return output.ToArray();
    }

    /// <summary>The AGE-SECRET-KEY-1… string of a 32-byte secret (Bech32, upper case).</summary>
    public static string Identity(byte[] secret)
    {
        const string hrp = "age-secret-key-";
        var values = new List<byte>();
        int acc = 0, bits = 0;
        foreach (byte b in secret)
        {
            acc = (acc << 8) | b;
            bits += 8;
            while (bits >= 5)
            {
                bits -= 5;
                values.Add((byte)((acc >> bits) & 31));
            }
        }
        if (bits > 0)
        {
            values.Add((byte)((acc << (5 - bits)) & 31));
        }
        var check = new List<byte>();
        check.AddRange(hrp.Select(c => (byte)(c >> 5)));
        check.Add(0);
        check.AddRange(hrp.Select(c => (byte)(c & 31)));
        check.AddRange(values);
        check.AddRange(new byte[6]);
        uint polymod = Polymod(check) ^ 1;
        for (int i = 0; i < 6; i++)
        {
            values.Add((byte)((polymod >> (5 * (5 - i))) & 31));
        }
        return (hrp + "1" + new string(values.Select(v => Charset[v]).ToArray())).ToUpperInvariant();
    }

    private static uint Polymod(List<byte> values)
    {
        uint[] gen = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
        uint chk = 1;
        foreach (byte v in values)
        {
            uint top = chk >> 25;
            chk = ((chk & 0x1ffffff) << 5) ^ v;
            for (int i = 0; i < 5; i++)
            {
                chk ^= ((top >> i) & 1) != 0 ? gen[i] : 0;
            }
        }
        return chk;
    }

    private static string B64(byte[] data) => Convert.ToBase64String(data).TrimEnd('=');
}
