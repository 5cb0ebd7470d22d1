using System.Security.Cryptography;
using Litestream.Internal;

namespace Litestream.Storage.Nats;

/// <summary>
/// An object's bytes, fetched one chunk at a time as they are read (each chunk one request under the request
/// timeout). The end is reached only when the chunk count, the size and the SHA-256 digest all match the
/// metadata: a changed, truncated or corrupt object is an error, never a short read.
/// </summary>
internal sealed class NatsObjectReadStream(NatsObjectBucket bucket, NatsObjectInfo info, Func<Exception, Exception> failure) : ReadOnlyStream
{
    private readonly IncrementalHash _digest = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private byte[] _chunk = [];
    private int _offset;
    private int _chunksRead;
    private long _bytesRead;
    private long _nextSequence = 1;
    private bool _verified;

    public override int Read(Span<byte> buffer)
    {
        byte[] scratch = new byte[buffer.Length];
        int n = ReadAsync(scratch).AsTask().GetAwaiter().GetResult();
        scratch.AsSpan(0, n).CopyTo(buffer);
        return n;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (_offset == _chunk.Length)
        {
            if (_chunksRead == info.Chunks)
            {
                Verify();
                return 0;
            }
            await NextChunkAsync(cancellationToken).ConfigureAwait(false);
        }
        int n = Math.Min(buffer.Length, _chunk.Length - _offset);
        _chunk.AsSpan(_offset, n).CopyTo(buffer.Span);
        _offset += n;
        return n;
    }

    private async Task NextChunkAsync(CancellationToken cancellationToken)
    {
        (byte[] Data, long Sequence)? chunk;
        try
        {
            chunk = await bucket.ReadChunkAsync(info.Nuid, _nextSequence, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is NatsException or IOException or TimeoutException)
        {
            throw failure(e);
        }
        if (chunk is not { } found)
        {
            throw failure(new NatsException($"chunk {_chunksRead + 1} of {info.Chunks} is gone (the object was replaced or deleted while it was read)"));
        }
        _digest.AppendData(found.Data);
        _chunk = found.Data;
        _offset = 0;
        _chunksRead++;
        _bytesRead += found.Data.Length;
        _nextSequence = found.Sequence + 1;
    }

    private void Verify()
    {
        if (_verified)
        {
            return;
        }
        string digest = NatsObjectBucket.DigestOf(_digest.GetHashAndReset());
        if (_bytesRead != info.Size || (info.Digest.Length > 0 && !string.Equals(digest, info.Digest, StringComparison.Ordinal)))
        {
            throw failure(new NatsException($"object {info.Name} read back as {_bytesRead} bytes with digest {digest}, its metadata says {info.Size} bytes, {info.Digest}"));
        }
        _verified = true;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _digest.Dispose();
        }
        base.Dispose(disposing);
    }
}
