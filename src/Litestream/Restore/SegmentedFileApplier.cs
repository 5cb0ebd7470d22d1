using Litestream.Internal;
using Litestream.Ltx;
using Litestream.Storage;
using Microsoft.Win32.SafeHandles;

namespace Litestream.Restore;

/// <summary>
/// Applies one large LTX file with parallel ranged reads (GETs on object storage) that each decode and write as
/// they stream:
/// the header and the page index at the file's tail are fetched first and cut the frames into segments of
/// about <see cref="SegmentBytes"/> (<see cref="LtxFrameSegments"/>); then up to <c>parallelism</c> workers
/// each take the next segment, GET exactly its bytes and decode them straight into positional writes of the
/// output. Pages of one file are distinct, so the order of the writes does not matter; the file checksum is
/// recombined from the segments' CRCs before the caller applies anything newer. Nothing is buffered out of
/// order: memory is a 64 KiB read buffer and a 256 KiB run of pages per worker, whatever the file's size
/// (the earlier design held <c>parallelism + 1</c> whole 8 MiB chunks, 72 MB by default), and the decoding,
/// checksumming and page-cache copies run on every core instead of one.
/// </summary>
internal sealed class SegmentedFileApplier(IReplicaClient client, LtxFileInfo info, int parallelism, TimeSpan stallTimeout, LtxKeyRing? keys) : IFileApplier
{
    /// <summary>Bytes of frames per ranged GET (8 MiB: request overhead stays small, every worker starts fast).</summary>
    public const long SegmentBytes = 8L * 1024 * 1024;

    /// <summary>Bytes each worker gathers per write (256 KiB: 4 000 writes a GB, a quarter of the memory of 1 MiB runs).</summary>
    private const int RunBytes = 256 * 1024;

    private LtxFrameSegments? _segments;

    /// <summary>Nothing is fetched ahead: the segments are fetched when the file's turn comes.</summary>
    public Task Fetched => Task.CompletedTask;

    /// <summary>Fetches the header and the page index and plans the segments (<see cref="PlanAsync"/>).</summary>
    public async ValueTask<LtxHeader> OpenAsync(CancellationToken cancellationToken)
    {
        _segments = await PlanAsync(client, info, cancellationToken).ConfigureAwait(false);
        return _segments.Header;
    }

    /// <summary>Checks the growth against the index's last page before anything is written, then applies the segments.</summary>
    public async ValueTask ApplyAsync(RestoreTarget target, uint previousCommit, CancellationToken cancellationToken)
    {
        LtxFrameSegments segments = _segments ?? throw new InvalidOperationException("OpenAsync first");
        DatabaseGrowth.Check(segments.Header, previousCommit, segments.LastPgno);
        await ApplyAsync(client, info, segments, target.Handle, parallelism, stallTimeout, keys, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Nothing to release: each worker closes its own range.</summary>
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    /// <summary>Fetches the header and the page index (concurrently) and plans the segments.</summary>
    /// <exception cref="LtxFormatException">The file is shorter than listed, or its header or index is malformed.</exception>
    public static ValueTask<LtxFrameSegments> PlanAsync(IReplicaClient client, LtxFileInfo info, CancellationToken cancellationToken)
        => LtxFrameSegments.ReadAsync(
            (offset, length, token) => client.OpenLtxFileAsync(info.Level, info.MinTxid, info.MaxTxid, offset, length, token),
            info.Size, SegmentBytes, cancellationToken);

    /// <summary>
    /// Writes every page of the planned file into <paramref name="database"/> at its offset, then verifies the
    /// file checksum. On any failure the other workers stop and the first error is thrown. A segment whose body
    /// sends nothing for <paramref name="stallTimeout"/> fails the restore: a stalled connection must not hang
    /// it (the S3 SDK's own timeout ends with the response headers).
    /// </summary>
    private static async ValueTask ApplyAsync(IReplicaClient client, LtxFileInfo info, LtxFrameSegments plan, SafeFileHandle database, int parallelism, TimeSpan stallTimeout, LtxKeyRing? keys, CancellationToken cancellationToken)
    {
        IReadOnlyList<LtxFrameSegment> segments = plan.Segments;
        if (plan.Header.IsSnapshot)
        {
            FileUtil.Preallocate(database, (long)plan.Header.Commit * plan.Header.PageSize);
        }
        var parts = new LtxSegmentChecksum[segments.Count];
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        int next = -1;
        bool local = client.TryGetLocalPath(info.Level, info.MinTxid, info.MaxTxid, out _);
        void Work()
        {
            using var run = new PageRunWriter(database, plan.Header.PageSize, RunBytes);
            try
            {
                for (int i = Interlocked.Increment(ref next); i < segments.Count; i = Interlocked.Increment(ref next))
                {
                    stop.Token.ThrowIfCancellationRequested();
                    LtxFrameSegment segment = segments[i];
                    Stream range = client.OpenLtxFileAsync(info.Level, info.MinTxid, info.MaxTxid, segment.Offset, segment.End - segment.Offset, stop.Token).AsTask().GetAwaiter().GetResult();
                    // A local file is read synchronously where it is: the guard's async reads would hop each 64 KiB read
                    // to the thread pool while this worker spins, and copy it once more.
                    using Stream body = local ? range
                        : new StallGuardStream(range, stallTimeout, $"{RestorePlan.FileName(info)} bytes {segment.Offset}-{segment.End - 1}", stop.Token);
                    using var decoder = new LtxSegmentDecoder(body, plan.Header, segment, leaveOpen: true, keys);
                    while (decoder.TryDecodePage(run.NextSlot, out LtxPageHeader header))
                    {
                        run.Commit(header.Pgno);
                    }
                    run.Flush();
                    FileUtil.StartWriteback(database);
                    parts[i] = decoder.Finish();
                }
            }
            catch
            {
                stop.Cancel();
                throw;
            }
        }

        // Dedicated threads: a worker blocks in reads of its response body, which must not starve the
        // thread pool the HTTP stack completes its I/O on.
        Task[] workers = Enumerable.Range(0, Math.Clamp(parallelism, 1, segments.Count))
            .Select(_ => Task.Factory.StartNew(Work, stop.Token, TaskCreationOptions.LongRunning, TaskScheduler.Default))
            .ToArray();
        try
        {
            await Task.WhenAll(workers).ConfigureAwait(false);
        }
        catch when (workers.Select(w => w.Exception?.InnerException).FirstOrDefault(e => e is not null and not OperationCanceledException) is { } cause)
        {
            // Report the failure that stopped the workers, not a cancellation it caused in another one.
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(cause);
        }
        plan.Verify(parts);
    }
}
