using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Litestream.Ltx;

/// <summary>
/// One 32-byte key of an encrypted replica (docs/ENCRYPTION.md). It names itself by a key id, which headers carry
/// so a wrong key is reported before anything is decrypted, and derives each file's page key from the file's
/// random salt with HKDF-SHA256. AES-256-GCM from the BCL: hardware AES on x64 and arm64, AOT clean, no package.
/// </summary>
public sealed class LtxPageCipher
{
    /// <summary>Bytes in a key.</summary>
    public const int KeySize = 32;

    private readonly byte[] _key;

    /// <summary>A cipher over <paramref name="key"/> (exactly <see cref="KeySize"/> bytes; copied).</summary>
    public LtxPageCipher(ReadOnlySpan<byte> key)
    {
        if (key.Length != KeySize)
        {
            throw new ArgumentException($"an encryption key is {KeySize} bytes, this one is {key.Length}", nameof(key));
        }
        _key = key.ToArray();
        KeyId = IdOf(key);
    }

    private LtxPageCipher(LtxPageCipher other, bool compressPages)
    {
        _key = other._key;
        KeyId = other.KeyId;
        CompressPages = compressPages;
    }

    /// <summary>
    /// Whether files sealed under this key store pages LZ4-compressed (true, the default) or as fixed-length LZ4
    /// literal blocks, so that sealed lengths reveal nothing about the content (docs/ENCRYPTION.md). Readers need
    /// not know: both are LZ4.
    /// </summary>
    public bool CompressPages { get; } = true;

    /// <summary>The same key, writing pages uncompressed (<see cref="CompressPages"/> false).</summary>
    public LtxPageCipher WithoutCompression() => new(this, compressPages: false);

    /// <summary>The key's id: the first 4 bytes of SHA-256("litestream key id v1" ‖ key), never 0 (0 marks a plain file).</summary>
    public uint KeyId { get; }

    /// <summary>
    /// A key written as text: 64 hex digits or base64 of 32 bytes, surrounding whitespace ignored (a key file, an
    /// environment variable). The message of a refusal never repeats the text.
    /// </summary>
    /// <exception cref="FormatException">The text is not 32 bytes in either encoding.</exception>
    public static LtxPageCipher Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string trimmed = text.Trim();
        if (trimmed.Length == 2 * KeySize && trimmed.All(Uri.IsHexDigit))
        {
            return new LtxPageCipher(Convert.FromHexString(trimmed));
        }
        var buffer = new byte[KeySize + 3];
        return Convert.TryFromBase64String(trimmed, buffer, out int written) && written == KeySize
            ? new LtxPageCipher(buffer.AsSpan(0, written))
            : throw new FormatException("not an encryption key: need 32 bytes as 64 hex digits or base64 (e.g. openssl rand -hex 32)");
    }

    /// <summary>The id as headers, logs and errors show it: 8 hex digits.</summary>
    public static string FormatKeyId(uint keyId) => keyId.ToString("x8", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The cipher for the pages of the file with <paramref name="header"/> (its salt, key id and fields as associated data).</summary>
    public LtxFileCipher ForFile(in LtxHeader header)
    {
        if (!header.IsEncrypted || header.KeyId != KeyId)
        {
            throw new ArgumentException($"the header is not encrypted with key {FormatKeyId(KeyId)}", nameof(header));
        }
        Span<byte> salt = stackalloc byte[16];
        BinaryPrimitives.WriteUInt128BigEndian(salt, header.Salt);
        byte[] fileKey = new byte[KeySize];
        HKDF.DeriveKey(HashAlgorithmName.SHA256, _key, fileKey, salt, "litestream ltx page key v1"u8);
        // Every header field is authenticated with every page except NodeID, which lease fencing may restamp.
        byte[] associated = new byte[LtxConstants.HeaderSize];
        (header with { NodeId = 0 }).Write(associated);
        return new LtxFileCipher(fileKey, associated);
    }

    /// <summary>A fresh random salt for a new file: never 0, which marks a plain file.</summary>
    internal static UInt128 NewSalt()
    {
        Span<byte> bytes = stackalloc byte[16];
        UInt128 salt;
        do
        {
            RandomNumberGenerator.Fill(bytes);
            salt = BinaryPrimitives.ReadUInt128BigEndian(bytes);
        }
        while (salt == 0);
        return salt;
    }

    private static uint IdOf(ReadOnlySpan<byte> key)
    {
        ReadOnlySpan<byte> label = "litestream key id v1"u8;
        Span<byte> input = stackalloc byte[label.Length + KeySize];
        label.CopyTo(input);
        key.CopyTo(input[label.Length..]);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(input, hash);
        uint id = BinaryPrimitives.ReadUInt32BigEndian(hash);
        return id == 0 ? 1 : id;
    }
}

/// <summary>
/// Seals and opens the page payloads of one encrypted file: AES-256-GCM under the file's derived key, the page
/// number as nonce (a page occurs once per file, and every file has its own key), the header as associated data.
/// Safe to share between threads (the VFS reads pages of one file on several SQLite connections at once).
/// </summary>
public sealed class LtxFileCipher : IDisposable
{
    private readonly AesGcm _aes;
    private readonly byte[] _associated;

    internal LtxFileCipher(byte[] key, byte[] associated)
    {
        _aes = new AesGcm(key, LtxConstants.PageTagSize);
        CryptographicOperations.ZeroMemory(key);
        _associated = associated;
    }

    /// <summary>Writes the sealed <paramref name="plaintext"/> and its tag (<see cref="LtxConstants.PageTagSize"/> bytes more) to <paramref name="destination"/>.</summary>
    public void Seal(uint pgno, ReadOnlySpan<byte> plaintext, Span<byte> destination)
    {
        Span<byte> nonce = stackalloc byte[12];
        Nonce(pgno, nonce);
        lock (_aes)
        {
            _aes.Encrypt(nonce, plaintext, destination[..plaintext.Length], destination.Slice(plaintext.Length, LtxConstants.PageTagSize), _associated);
        }
    }

    /// <summary>Opens a sealed payload (ciphertext then tag) into <paramref name="destination"/>; returns the plaintext's length.</summary>
    /// <exception cref="LtxAuthenticationException">The payload, its page number or the file's header was changed, or the key is wrong.</exception>
    public int Open(uint pgno, ReadOnlySpan<byte> sealedPayload, Span<byte> destination)
    {
        int length = sealedPayload.Length - LtxConstants.PageTagSize;
        if (length < 0)
        {
            throw new LtxAuthenticationException(pgno);
        }
        Span<byte> nonce = stackalloc byte[12];
        Nonce(pgno, nonce);
        try
        {
            lock (_aes)
            {
                _aes.Decrypt(nonce, sealedPayload[..length], sealedPayload[length..], destination[..length], _associated);
            }
        }
        catch (AuthenticationTagMismatchException)
        {
            throw new LtxAuthenticationException(pgno);
        }
        return length;
    }

    /// <summary>Releases the key schedule.</summary>
    public void Dispose() => _aes.Dispose();

    private static void Nonce(uint pgno, Span<byte> nonce)
    {
        nonce.Clear();
        BinaryPrimitives.WriteUInt32BigEndian(nonce, pgno);
    }
}
