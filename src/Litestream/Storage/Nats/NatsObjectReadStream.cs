using System.Security.Cryptography;
using Litestream.Internal;

namespace Litestream.Storage.Nats;

/// <summary>
/// An object's bytes, each chunk one request under the request timeout, with up to <see cref="ReadAhead"/> chunks
/// asked for before the reader needs them, so a large object is not one round trip per 128 KiB. A chunk is "the
/// first message of the object's chunk subject at or after sequence N", and the next one starts after the last
/// one's sequence: the requests ahead guess that the chunks lie at consecutive sequences (one writer published
/// them in a row), and a guess is only used when it asked from exactly the sequence after the chunk before, so
/// chunks interleaved with other messages cost extra requests, never a wrong or repeated chunk. The end is reached
/// only when the chunk count, the size and the SHA-256 digest all match the metadata: a changed, truncated or
/// corrupt object is an error, never a short read.
/// </summary>
internal sealed class NatsObjectReadStream(NatsObjectBucket bucket, NatsObjectInfo info, Func<Exception, Exception> failure) : ReadOnlyStream
{
    /// <summary>Chunk requests in flight at most (1 MiB of 128 KiB chunks): bounds the memory a read holds.</summary>
    public const int ReadAhead = 8;

    private readonly IncrementalHash _digest = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    /// <summary>Requests in flight by the sequence they ask from.</summary>
    private readonly Dictionary<long, Task<(byte[] Data, long Sequence)?>> _ahead = [];
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
            RequestAhead();
            chunk = await _ahead[_nextSequence].WaitAsync(cancellationToken).ConfigureAwait(false);
            _ahead.Remove(_nextSequence);
        }
        catch (Exception e) when (e is NatsException or IOException or TimeoutException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            throw failure(e is OperationCanceledException ? new TimeoutException("the read was stopped") : e);
        }
        if (chunk is { } got)
        {
            // Guesses from up to this chunk's sequence (others' messages lay between) can only answer with it again.
            foreach (long stale in _ahead.Keys.Where(start => start <= got.Sequence).ToList())
            {
                Forget(_ahead[stale]);
                _ahead.Remove(stale);
            }
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

    /// <summary>Asks for the chunk at <c>_nextSequence</c> when not already asked, and guesses ahead up to the window and the chunks left.</summary>
    private void RequestAhead()
    {
        int left = info.Chunks - _chunksRead;
        for (long start = _nextSequence; start < _nextSequence + Math.Min(ReadAhead, left); start++)
        {
            if (!_ahead.ContainsKey(start))
            {
                // Never cancelled: a request cut off mid-write would close the connection every reader shares. Each
                // is bounded by the request timeout; one the reader no longer wants finishes and is dropped.
                _ahead[start] = bucket.ReadChunkAsync(info.Nuid, start, CancellationToken.None);
            }
        }
    }

    /// <summary>Drops a request nobody will read (its failure included).</summary>
    private static void Forget(Task task) => _ = task.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

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
            foreach (Task pending in _ahead.Values)
            {
                Forget(pending);
            }
            _ahead.Clear();
            _digest.Dispose();
        }
        base.Dispose(disposing);
    }
}
