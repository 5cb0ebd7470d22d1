using Litestream.Ltx;
using Litestream.Storage;

namespace Litestream.Restore;

/// <summary>
/// Applies an LTX file that streams through one decoder: a local file read from disk, or a small remote one
/// whose body was fetched ahead into memory (<see cref="Restorer.InMemoryFetchLimit"/>). Pages decode straight
/// into the target's page runs (<see cref="PageRunWriter"/>).
/// </summary>
internal sealed class StreamedFileApplier(Task<Stream> fetch, LtxKeyRing? keys) : IFileApplier
{
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
        // Remote bodies are buffered while earlier files apply, so downloads overlap; only files of at most
        // InMemoryFetchLimit come here (larger ones go through SegmentedFileApplier).
        var buffer = new MemoryStream((int)Math.Max(info.Size, 0));
        await using (stream.ConfigureAwait(false))
        {
            await stream.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        buffer.Position = 0;
        return buffer;
    }
}
