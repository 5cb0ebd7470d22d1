using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using Litestream.Internal;

namespace Litestream.Restore.Age;

/// <summary>
/// The plaintext of an age v1 file (age-encryption.org/v1), decrypted as it is read: the header's X25519 stanza
/// gives the file key (<see cref="AgeIdentity"/>), the header MAC is checked, then the STREAM payload is opened chunk
/// by chunk — 64 KiB of plaintext each, ChaCha20-Poly1305 under HKDF(file key, 16-byte nonce, "payload") with an
/// 11-byte big-endian counter and a last-chunk flag as nonce. A chunk is returned only once its tag verified, so
/// a wrong key or a modified, truncated or extended file is an <see cref="AgeDecryptionException"/> naming the
/// file, never unauthenticated bytes. Memory: one ciphertext and one plaintext chunk, pooled.
/// </summary>
internal sealed class AgeDecryptStream : ReadOnlyStream
{
    private const int ChunkSize = 64 * 1024;
    private const int TagSize = 16;
    private const int EncryptedChunkSize = ChunkSize + TagSize;
    private const int PayloadNonceSize = 16;
    private static readonly byte[] s_payloadInfo = "payload"u8.ToArray();

    private readonly Stream _source;
    private readonly string _name;
    private readonly ChaCha20Poly1305 _aead;
    private readonly byte[] _nonce = new byte[12];
    private byte[]? _in = ArrayPool<byte>.Shared.Rent(EncryptedChunkSize);
    private byte[]? _out = ArrayPool<byte>.Shared.Rent(ChunkSize);
    private int _outOffset;
    private int _outCount;
    private ulong _counter;
    private bool _done;

    private AgeDecryptStream(Stream source, string name, ReadOnlySpan<byte> payloadKey)
    {
        _source = source;
        _name = name;
        _aead = new ChaCha20Poly1305(payloadKey);
    }

    /// <summary>True when <paramref name="prefix"/> (the first bytes of an object) starts an age v1 file.</summary>
    public static bool IsEncrypted(ReadOnlySpan<byte> prefix) => prefix.StartsWith(AgeHeader.Magic);

    /// <summary>Length of the prefix <see cref="IsEncrypted"/> needs.</summary>
    public static int MagicLength => AgeHeader.Magic.Length;

    /// <summary>
    /// Reads and authenticates the header of the age file <paramref name="source"/> (positioned at its start) with
    /// <paramref name="identities"/>, and returns its plaintext as a stream. <paramref name="name"/> names the file in errors.
    /// </summary>
    /// <exception cref="AgeDecryptionException">The header is malformed, no identity matches, or the MAC does not.</exception>
    public static async ValueTask<AgeDecryptStream> OpenAsync(Stream source, IReadOnlyList<AgeIdentity> identities, string name, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(identities);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(AgeHeader.MaxSize);
        try
        {
            int filled = 0;
            (AgeHeader Header, int Length)? parsed;
            while (true)
            {
                int n = await source.ReadAsync(buffer.AsMemory(filled, Math.Min(4096, AgeHeader.MaxSize - filled)), cancellationToken).ConfigureAwait(false);
                filled += n;
                parsed = Parse(buffer.AsSpan(0, filled), name);
                if (parsed is not null)
                {
                    break;
                }
                if (n == 0)
                {
                    throw new AgeDecryptionException($"cannot decrypt {name}: the age header is truncated", CorruptHint);
                }
            }
            byte[] fileKey = Unwrap(parsed.Value.Header, identities, name);
            // What was read past the header is the payload's start: its nonce, then the first chunk.
            var payload = new HeaderedStream(buffer.AsSpan(parsed.Value.Length, filled - parsed.Value.Length).ToArray(), source);
            byte[] nonce = new byte[PayloadNonceSize];
            if (await payload.ReadAtLeastAsync(nonce, nonce.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false) != nonce.Length)
            {
                throw new AgeDecryptionException($"cannot decrypt {name}: the age payload is truncated", CorruptHint);
            }
            Span<byte> payloadKey = stackalloc byte[32];
            HKDF.DeriveKey(HashAlgorithmName.SHA256, fileKey, payloadKey, nonce, s_payloadInfo);
            CryptographicOperations.ZeroMemory(fileKey);
            var stream = new AgeDecryptStream(payload, name, payloadKey);
            CryptographicOperations.ZeroMemory(payloadKey);
            return stream;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>What to check when a file fails authentication.</summary>
    internal const string CorruptHint = "the v0.3 replica file is damaged or was modified; restore from another replica or an earlier snapshot";

    private static (AgeHeader Header, int Length)? Parse(ReadOnlySpan<byte> data, string name)
    {
        try
        {
            return AgeHeader.TryParse(data);
        }
        catch (InvalidDataException e)
        {
            throw new AgeDecryptionException($"cannot decrypt {name}: {e.Message}", CorruptHint);
        }
    }

    private static byte[] Unwrap(AgeHeader header, IReadOnlyList<AgeIdentity> identities, string name)
    {
        try
        {
            return header.Unwrap(identities) ?? throw new AgeDecryptionException(
                $"cannot decrypt {name}: no configured age identity matches the file's recipients",
                "the replica was encrypted for other age recipients; set age: identities to the AGE-SECRET-KEY-1… matching them");
        }
        catch (InvalidDataException e)
        {
            throw new AgeDecryptionException($"cannot decrypt {name}: {e.Message}", CorruptHint);
        }
    }

    public override int Read(Span<byte> buffer)
    {
        if (_outCount == 0 && !_done)
        {
            int n = _source.ReadAtLeast(_in.AsSpan(0, EncryptedChunkSize), EncryptedChunkSize, throwOnEndOfStream: false);
            if (Open(n) && n == EncryptedChunkSize)
            {
                CheckEnd(_source.Read(stackalloc byte[1]));
            }
        }
        return Copy(buffer);
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (_outCount == 0 && !_done)
        {
            int n = await _source.ReadAtLeastAsync(_in.AsMemory(0, EncryptedChunkSize), EncryptedChunkSize, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            if (Open(n) && n == EncryptedChunkSize)
            {
                CheckEnd(await _source.ReadAsync(new byte[1], cancellationToken).ConfigureAwait(false));
            }
        }
        return Copy(buffer.Span);
    }

    private int Copy(Span<byte> buffer)
    {
        int n = Math.Min(buffer.Length, _outCount);
        _out.AsSpan(_outOffset, n).CopyTo(buffer);
        _outOffset += n;
        _outCount -= n;
        return n;
    }

    // Opens the n bytes read into _in as the next chunk; returns whether it was the last one.
    private bool Open(int n)
    {
        ObjectDisposedException.ThrowIf(_in is null, this);
        if (n == 0)
        {
            // Every age payload ends with a chunk flagged last; a payload without one was cut short.
            throw Failure("the age payload is truncated");
        }
        bool last = n < EncryptedChunkSize;
        if (n < TagSize || (last && n == TagSize && _counter != 0))
        {
            throw Failure("the age payload is truncated");
        }
        int length = n - TagSize;
        if (!TryDecrypt(length, last))
        {
            // A full-size chunk may be the last one: age tries both flags.
            if (last || !TryDecrypt(length, last = true))
            {
                throw Failure($"age payload chunk {_counter} failed authentication (wrong key, or the file was modified)");
            }
        }
        _counter++;
        _outOffset = 0;
        _outCount = length;
        _done = last;
        return last;
    }

    private bool TryDecrypt(int length, bool last)
    {
        BinaryPrimitives.WriteUInt64BigEndian(_nonce.AsSpan(3, 8), _counter);
        _nonce[11] = last ? (byte)1 : (byte)0;
        try
        {
            _aead.Decrypt(_nonce, _in.AsSpan(0, length), _in.AsSpan(length, TagSize), _out.AsSpan(0, length));
            return true;
        }
        catch (AuthenticationTagMismatchException)
        {
            return false;
        }
    }

    private void CheckEnd(int read)
    {
        if (read != 0)
        {
            _outCount = 0;
            throw Failure("data follows the last age payload chunk");
        }
    }

    private AgeDecryptionException Failure(string what) => new($"cannot decrypt {_name}: {what}", CorruptHint);

    protected override void Dispose(bool disposing)
    {
        if (disposing && _in is not null)
        {
            _aead.Dispose();
            _source.Dispose();
            CryptographicOperations.ZeroMemory(_out);
            ArrayPool<byte>.Shared.Return(_in);
            ArrayPool<byte>.Shared.Return(_out!);
            _in = null;
            _out = null;
        }
        base.Dispose(disposing);
    }
}
