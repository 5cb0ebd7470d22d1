using System.Buffers;
using Litestream.Ltx;
using Litestream.Storage;

namespace Litestream.Restore;

/// <summary>
/// Applies an LTX file that streams through one decoder: a local file read from disk, or a small remote one
/// whose body was fetched ahead into memory (<see cref="InMemoryFetchLimit"/>); in follow mode any file
/// (<see cref="Follower"/>), checked whole by <see cref="Verify"/> before it is applied. Pages decode straight into
/// the target's page runs (<see cref="PageRunWriter"/>).
/// </summary>
internal sealed class StreamedFileApplier(Task<Stream> fetch, LtxKeyRing? keys) : IFileApplier
{
    /// <summary>Remote files up to this size are fetched whole, ahead of their turn; a restore reads larger ones by segments.</summary>
    internal const long InMemoryFetchLimit = 2L * 1024 * 1024;

    private Stream? _stream;
    private LtxDecoder? _decoder;

    /// <summary>Starts fetching <paramref name="info"/> (ahead of its turn: see <see cref="Restorer"/>).</summary>
    public static StreamedFileApplier Start(IReplicaClient client, LtxFileInfo info, LtxKeyRing? keys, CancellationToken cancellationToken)
        => new(FetchAsync(client, info, cancellationToken), keys);

    public Task Fetched => fetch;

    public async ValueTask<LtxHeader> OpenAsync(CancellationToken cancellationToken)
    {
        _stream = await fetch.ConfigureAwait(false);
        _decoder = new LtxDecoder(_stream, leaveOpen: true) { KeepPageIndex = false, Keys = keys };
        return _decoder.DecodeHeader();
    }

    public ValueTask ApplyAsync(RestoreTarget target, uint previousCommit, CancellationToken cancellationToken)
    {
        LtxDecoder decoder = _decoder ?? throw new InvalidOperationException("OpenAsync first");
        PageRunWriter run = target.Pages(decoder.Header.PageSize);
        uint lastPgno = 0;
        while (decoder.TryDecodePage(run.NextSlot, out LtxPageHeader ph))
        {
            run.Commit(ph.Pgno);
            lastPgno = ph.Pgno;
        }
        run.Flush();
        decoder.Close();
        DatabaseGrowth.Check(decoder.Header, previousCommit, lastPgno);
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Decodes the whole file without writing a page (its checksum and growth checked), then rewinds it for
    /// <see cref="ApplyAsync"/>: follow mode checks a file before it touches the live copy, one page buffer at a time.
    /// </summary>
    /// <exception cref="LtxFormatException">The file is damaged.</exception>
    public void Verify(uint previousCommit)
    {
        LtxDecoder decoder = _decoder ?? throw new InvalidOperationException("OpenAsync first");
        int pageSize = (int)decoder.Header.PageSize;
        byte[] page = ArrayPool<byte>.Shared.Rent(pageSize);
        try
        {
            uint lastPgno = 0;
            while (decoder.TryDecodePage(page.AsSpan(0, pageSize), out LtxPageHeader ph))
            {
                lastPgno = ph.Pgno;
            }
            decoder.Close();
            DatabaseGrowth.Check(decoder.Header, previousCommit, lastPgno);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(page);
        }
        decoder.Dispose();
        _stream!.Position = 0;
        _decoder = new LtxDecoder(_stream, leaveOpen: true) { KeepPageIndex = false, Keys = keys };
        _decoder.DecodeHeader();
    }

    public async ValueTask DisposeAsync()
    {
        _decoder?.Dispose();
        if (_stream is not null)
        {
            await _stream.DisposeAsync().ConfigureAwait(false);
            return;
        }
        try
        {
            // Never opened: a fetch ahead of a restore that failed or was cancelled.
            await (await fetch.ConfigureAwait(false)).DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The restore already failed; a fetch ahead that failed too adds nothing.
        }
    }

    private static async Task<Stream> FetchAsync(IReplicaClient client, LtxFileInfo info, CancellationToken cancellationToken)
    {
        Stream stream = await client.OpenLtxFileAsync(info.Level, info.MinTxid, info.MaxTxid, 0, 0, cancellationToken).ConfigureAwait(false);
        if (stream is FileStream)
        {
            return stream; // local files stream straight from disk
        }
        // Remote bodies are buffered while earlier files apply, so downloads overlap; a restore sends only files of
        // at most InMemoryFetchLimit here (larger ones go through SegmentedFileApplier). Follow mode streams every
        // file: a larger one is spooled to a temp file that deletes itself, so memory stays bounded.
        Stream buffer = info.Size > InMemoryFetchLimit
            ? new FileStream(Path.Combine(Path.GetTempPath(), $"litestream-{Guid.NewGuid():N}.ltx"), FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.DeleteOnClose)
            : new MemoryStream((int)Math.Max(info.Size, 0));
        try
        {
            await using (stream.ConfigureAwait(false))
            {
                await stream.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            await buffer.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        buffer.Position = 0;
        return buffer;
    }
}
