using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Litestream.Storage.Sftp;

/// <summary>
/// The server key a replica's <c>host-key</c> names (upstream parses it as an authorized_keys line): the key type
/// and its wire-format blob, compared byte for byte with what the server presents.
/// </summary>
internal sealed class SftpHostKey
{
    private SftpHostKey(string type, byte[] blob)
    {
        Type = type;
        Blob = blob;
    }

    /// <summary>The key type, e.g. <c>ssh-ed25519</c>, <c>ssh-rsa</c>, <c>ecdsa-sha2-nistp256</c>.</summary>
    public string Type { get; }

    /// <summary>The public key in SSH wire format (the base64 of the .pub line, decoded).</summary>
    public byte[] Blob { get; }

    /// <summary>The fingerprint ssh-keygen -l prints, e.g. <c>SHA256:ohD8VZEX…</c>.</summary>
    public string Fingerprint => FingerprintOf(Blob);

    /// <summary>The SHA-256 fingerprint of a key blob as OpenSSH prints it (unpadded base64).</summary>
    public static string FingerprintOf(byte[] blob) => "SHA256:" + Convert.ToBase64String(SHA256.HashData(blob)).TrimEnd('=');

    /// <summary>The public key line (<c>ssh-ed25519 AAAA…</c>) of a key blob a server presented, as <c>host-key</c> takes it.</summary>
    public static string LineOf(byte[] blob) => $"{BlobType(blob) ?? "unknown"} {Convert.ToBase64String(blob)}";

    /// <summary>
    /// Reads a public key line: <c>TYPE BASE64 [comment]</c>, optionally after authorized_keys options or a known_hosts
    /// host field. The blob must name the same type as the line.
    /// </summary>
    /// <exception cref="ArgumentException">No key type followed by a valid key blob.</exception>
    public static SftpHostKey Parse(string text)
    {
        string[] fields = text.Trim().Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        for (int i = 0; i + 1 < fields.Length; i++)
        {
            if (!IsKeyType(fields[i]))
            {
                continue;
            }
            byte[] blob;
            try
            {
                blob = Convert.FromBase64String(fields[i + 1]);
            }
            catch (FormatException)
            {
                break;
            }
            if (BlobType(blob) != fields[i])
            {
                break;
            }
            return new SftpHostKey(fields[i], blob);
        }
        throw new ArgumentException("sftp host-key must be a public key line such as \"ssh-ed25519 AAAAC3Nz… comment\" (ssh-keyscan or the server's /etc/ssh/ssh_host_*_key.pub prints one)");
    }

    /// <summary>
    /// True when the server may sign with <paramref name="algorithm"/> for this key: the key's own type, and for an
    /// RSA key the SHA-2 signature algorithms too. Offering only these makes the server present this key rather than
    /// another of its keys (a host with an ed25519 and an RSA key would otherwise show whichever the client prefers).
    /// </summary>
    public bool Allows(string algorithm)
        => algorithm == Type || (Type == "ssh-rsa" && algorithm is "rsa-sha2-256" or "rsa-sha2-512");

    private static bool IsKeyType(string field)
        => field is "ssh-ed25519" or "ssh-rsa" or "ssh-dss" or "ecdsa-sha2-nistp256" or "ecdsa-sha2-nistp384" or "ecdsa-sha2-nistp521";

    /// <summary>The type string a key blob starts with (uint32 length, then the name), or null.</summary>
    private static string? BlobType(byte[] blob)
    {
        if (blob.Length < 4)
        {
            return null;
        }
        uint length = BinaryPrimitives.ReadUInt32BigEndian(blob);
        return length <= (uint)(blob.Length - 4) ? Encoding.ASCII.GetString(blob, 4, (int)length) : null;
    }
}
