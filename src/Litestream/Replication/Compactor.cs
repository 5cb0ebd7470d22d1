using Litestream.Internal;
using Litestream.Logging;
using Litestream.Ltx;
using Litestream.Metrics;
using Litestream.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Litestream.Replication;

/// <summary>Compaction levels, snapshots and retention (upstream <c>CompactionLevels</c> and store settings).</summary>
public sealed record CompactionOptions
{
    /// <summary>Intervals of levels 1..N (upstream defaults 30 s, 5 min, 1 h). At most 8 levels.</summary>
    public IReadOnlyList<TimeSpan> Levels { get; init; } = [TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(5), TimeSpan.FromHours(1)];

    /// <summary>How often a full snapshot is written to level 9 (24 h).</summary>
    public TimeSpan SnapshotInterval { get; init; } = TimeSpan.FromHours(24);

    /// <summary>How long snapshots are kept (24 h); the newest is always kept.</summary>
    public TimeSpan SnapshotRetention { get; init; } = TimeSpan.FromHours(24);

    /// <summary>How long L0 files stay after they were compacted into L1 (5 min; zero disables L0 deletion).</summary>
    public TimeSpan L0Retention { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>How often L0 retention runs (15 s).</summary>
    public TimeSpan L0RetentionCheckInterval { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>False keeps every remote file forever.</summary>
    public bool RetentionEnabled { get; init; } = true;

    /// <summary>
    /// After each compaction, read the new file back from the replica and decode it whole (checksums, TXID
    /// range), and check that the destination level is one contiguous TXID chain (<c>verify-compaction</c>).
    /// </summary>
    public bool VerifyCompaction { get; init; }
}

/// <summary>
/// Keeps a replica bounded and fast to restore (upstream <c>Compactor</c>/<c>Store</c> loops): level L
/// merges the new files of level L−1 into one file on wall-clock multiples of its interval; level 9
/// receives a full snapshot of the live database every snapshot interval; retention deletes snapshots
/// past their age (keeping the newest), the level files they make unnecessary, and L0 files already
/// compacted into L1 once they are older than the L0 retention.
/// </summary>
internal sealed class Compactor
{
    private readonly Replica _replica;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim? _gate;

    /// <summary>
    /// Creates the compactor for one replica; <paramref name="gate"/>, when given, bounds how many passes (compaction,
    /// snapshot, retention) run at once across every compactor sharing it (<see cref="StoreOptions.MaxConcurrentCompactions"/>).
    /// </summary>
    public Compactor(Replica replica, CompactionOptions? options = null, ILogger? logger = null, SemaphoreSlim? gate = null)
    {
        _replica = replica;
        _gate = gate;
        Options = options ?? new CompactionOptions();
        _logger = logger ?? NullLogger.Instance;
        if (Options.Levels.Count > LtxConstants.SnapshotLevel - 1)
        {
            throw new ArgumentException($"at most {LtxConstants.SnapshotLevel - 1} compaction levels are allowed");
        }
    }

    /// <summary>The settings.</summary>
    public CompactionOptions Options { get; }

    private IReplicaClient Client => _replica.Client;

    /// <summary>
    /// Puts every level's tick, the level-9 snapshot and L0 retention on <paramref name="scheduler"/>, each on wall-clock
    /// multiples of its interval, until <paramref name="cancellationToken"/> is cancelled; the task ends when they have.
    /// </summary>
    public Task StartAsync(StoreScheduler scheduler, CancellationToken cancellationToken)
    {
        var jobs = new List<Task>();
        for (int i = 0; i < Options.Levels.Count; i++)
        {
            int level = i + 1;
            jobs.Add(Start(scheduler, level < s_levelJobNames.Length ? s_levelJobNames[level] : $"compaction L{level}", Options.Levels[i], level, cancellationToken));
        }
        jobs.Add(Start(scheduler, "compaction snapshot", Options.SnapshotInterval, LtxConstants.SnapshotLevel, cancellationToken));
        if (Options.RetentionEnabled && Options.L0Retention > TimeSpan.Zero)
        {
            jobs.Add(Start(scheduler, "compaction L0 retention", Options.L0RetentionCheckInterval, 0, cancellationToken));
        }
        return RunAsync(jobs);
    }

    private async Task RunAsync(List<Task> jobs)
    {
        // Level 1 reads the local L0 files while they are the uploaded ones (see OpenLocalFirstAsync): the backlog keeps them for it.
        _replica.MergesLocalL0 = Options.Levels.Count > 0 && LocalL0IsUploaded;
        try
        {
            await Task.WhenAll(jobs).ConfigureAwait(false);
        }
        finally
        {
            _replica.MergesLocalL0 = false;
        }
    }

    // Without lease and encryption: with them the upload was a restamped or encrypted copy, and the output must carry
    // the NodeID the replica's files carry (lease fencing).
    private bool LocalL0IsUploaded => _replica.Lease is null && _replica.Options.Encryption is null;

    /// <summary>
    /// Merges level <paramref name="level"/>−1 files newer than this level's newest into one file at
    /// this level (a first file larger than the others together is copied up on its own, and the others merged after
    /// it). Returns the newest new file, or null when there was nothing new.
    /// </summary>
    public async ValueTask<LtxFileInfo?> CompactAsync(int level, CancellationToken cancellationToken)
    {
        LtxFileInfo? newest = await NewestAsync(level, cancellationToken).ConfigureAwait(false);
        Txid after = newest?.MaxTxid ?? Txid.Zero;
        MergedL0(level, after);
        var sources = new List<LtxFileInfo>();
        // From the cached listing: an idle database sends no request here (nothing newer than this level's newest).
        foreach (LtxFileInfo info in await Listing.GetAsync(level - 1, cancellationToken).ConfigureAwait(false))
        {
            if (info.MinTxid.Value <= after.Value)
            {
                continue;
            }
            if (sources.Count > 0 && info.MinTxid.Value != sources[^1].MaxTxid.Value + 1)
            {
                break; // a gap (or overlap): compact only the contiguous run
            }
            sources.Add(info);
        }
        // The run may start past after+1, as upstream's does: snapshot retention deletes source files a
        // snapshot covers whether or not this level merged them yet, and waiting for them would stall the
        // level for good.
        if (sources.Count == 0)
        {
            return null;
        }
        Log.Compacting(_logger, _replica.Db.Path, level, sources[0].MinTxid.ToString(), sources[^1].MaxTxid.ToString(), sources.Count);
        _replica.Lease?.EnsureHeld(); // a copy inside the storage writes to the replica too
        // A first file larger than the rest together (each level's first pass after a snapshot: the whole database
        // and a few seconds of changes) moves up alone, inside the storage, and the rest merge after it: merged in,
        // the whole database would be uploaded again at every level for a few new pages.
        if (sources.Count > 1 && sources[0].Size > sources.Skip(1).Sum(s => s.Size)
            && await Client.CopyLtxFileAsync(sources[0], level, cancellationToken).ConfigureAwait(false) is { } head)
        {
            await CompactedAsync(level, head, cancellationToken).ConfigureAwait(false);
            sources.RemoveAt(0);
        }
        if (sources.Count == 1 && await Client.CopyLtxFileAsync(sources[0], level, cancellationToken).ConfigureAwait(false) is { } copied)
        {
            return await CompactedAsync(level, copied, cancellationToken).ConfigureAwait(false);
        }
        string temp = Path.Combine(Path.GetTempPath(), $"litestream-compact-{Guid.NewGuid():N}.ltx");
        var inputs = new List<Stream>();
        try
        {
            bool readLocally = false;
            foreach (LtxFileInfo source in sources)
            {
                (Stream input, bool local) = await OpenLocalFirstAsync(source, cancellationToken).ConfigureAwait(false);
                inputs.Add(input);
                readLocally |= local;
            }
            if (readLocally)
            {
                await ConfirmOnReplicaAsync(sources, cancellationToken).ConfigureAwait(false);
            }
            await using (var output = new FileStream(temp, FileMode.Create, FileAccess.ReadWrite))
            {
                LtxCompactor.Compact(output, inputs, new LtxCompactionOptions { Keys = _replica.Options.Encryption });
                output.Position = 0;
                _replica.Lease?.EnsureHeld();
                LtxFileInfo written = await Client.WriteLtxFileAsync(level, sources[0].MinTxid, sources[^1].MaxTxid, output, cancellationToken).ConfigureAwait(false);
                return await CompactedAsync(level, written, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            foreach (Stream input in inputs)
            {
                await input.DisposeAsync().ConfigureAwait(false);
            }
            FileUtil.TryDelete(temp);
        }
    }

    private async ValueTask<LtxFileInfo> CompactedAsync(int level, LtxFileInfo written, CancellationToken cancellationToken)
    {
        Listing.Added(written);
        MergedL0(level, written.MaxTxid);
        if (Options.VerifyCompaction)
        {
            await VerifyOutputAsync(written, cancellationToken).ConfigureAwait(false);
        }
        Log.Compacted(_logger, _replica.Db.Path, level, written.MinTxid.ToString(), written.MaxTxid.ToString());
        return written;
    }

    /// <summary>Level 1 holds the L0 files through <paramref name="txid"/>: the local copies kept for this pass can go.</summary>
    private void MergedL0(int level, Txid txid)
    {
        if (level == 1 && _replica.MergedL0Through != txid)
        {
            _replica.MergedL0Through = txid;
            _replica.Db.Backlog.Merged(_replica, _logger);
        }
    }

    /// <summary>
    /// Checks that the files of <paramref name="level"/> form one contiguous TXID chain, each file starting
    /// right after the previous one's MaxTXID (upstream <c>VerifyLevelConsistency</c>). Throws
    /// <see cref="InvalidDataException"/> naming the first gap or overlap.
    /// </summary>
    public async ValueTask VerifyLevelConsistencyAsync(int level, CancellationToken cancellationToken)
    {
        LtxFileInfo? previous = null;
        await foreach (LtxFileInfo info in Client.ListLtxFilesAsync(level, Txid.Zero, false, cancellationToken).ConfigureAwait(false))
        {
            if (previous is not null && info.MinTxid.Value != previous.MaxTxid.Value + 1)
            {
                var expected = new Txid(previous.MaxTxid.Value + 1);
                throw new InvalidDataException(info.MinTxid > expected
                    ? $"txid gap detected at level {level}: prev.MaxTXID={previous.MaxTxid}, next.MinTXID={info.MinTxid} (expected {expected})"
                    : $"txid overlap detected at level {level}: prev.MaxTXID={previous.MaxTxid}, next.MinTXID={info.MinTxid}");
            }
            previous = info;
        }
    }

    /// <summary>
    /// Reads the compaction output back from the replica and decodes every page and the trailer (file
    /// checksum), then checks the level's chain. A damaged output is deleted and the compaction fails, so the
    /// next interval writes it again and no restore ever reads it; a broken chain is logged, as upstream does.
    /// </summary>
    private async ValueTask VerifyOutputAsync(LtxFileInfo written, CancellationToken cancellationToken)
    {
        try
        {
            await using Stream stream = await Client.OpenLtxFileAsync(written.Level, written.MinTxid, written.MaxTxid, 0, 0, cancellationToken).ConfigureAwait(false);
            using var decoder = new LtxDecoder(stream, leaveOpen: false) { KeepPageIndex = false, Keys = _replica.Options.Encryption };
            LtxHeader header = decoder.DecodeHeader();
            if (header.MinTxid != written.MinTxid || header.MaxTxid != written.MaxTxid)
            {
                throw new InvalidDataException($"header txid range {header.MinTxid}-{header.MaxTxid} does not match the file name {written.MinTxid}-{written.MaxTxid}");
            }
            byte[] page = new byte[header.PageSize];
            while (decoder.TryDecodePage(page, out _))
            {
            }
            decoder.Close();
        }
        catch (Exception e) when (e is LtxFormatException or InvalidDataException or EndOfStreamException)
        {
            LitestreamMetrics.CompactionVerifyErrorCount.Add(1, LitestreamMetrics.DbTag(_replica.Db.Path));
            await DeleteAsync([written], cancellationToken).ConfigureAwait(false);
            throw new InvalidDataException($"compacted file L{written.Level} {written.MinTxid}-{written.MaxTxid} failed verification and was deleted: {e.Message}", e);
        }
        try
        {
            await VerifyLevelConsistencyAsync(written.Level, cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidDataException e)
        {
            LitestreamMetrics.CompactionVerifyErrorCount.Add(1, LitestreamMetrics.DbTag(_replica.Db.Path));
            Log.Warning(_logger, _replica.Db.Path, $"post-compaction verification failed: {e.Message}");
        }
    }

    /// <summary>Uploads a full snapshot to level 9 when the newest one is behind the database. Returns it, or null.</summary>
    public async ValueTask<LtxFileInfo?> SnapshotAsync(CancellationToken cancellationToken)
    {
        LtxFileInfo? newest = await NewestAsync(LtxConstants.SnapshotLevel, cancellationToken).ConfigureAwait(false);
        Db db = _replica.Db;
        if (!db.IsOpen || (newest is not null && newest.MaxTxid >= db.Txid))
        {
            return null;
        }
        LtxFileInfo? snapshot = await _replica.SnapshotAsync(cancellationToken).ConfigureAwait(false);
        if (snapshot is not null)
        {
            HeapTrim.TrimSoon();
        }
        return snapshot;
    }

    /// <summary>
    /// Deletes snapshots created before <paramref name="now"/> − retention (always keeping the newest),
    /// then, in levels 0..N, files wholly older than the oldest kept snapshot (keeping each level's newest).
    /// </summary>
    public async ValueTask<int> EnforceSnapshotRetentionAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        List<LtxFileInfo> snapshots = await ListAsync(LtxConstants.SnapshotLevel, cancellationToken).ConfigureAwait(false);
        if (snapshots.Count == 0)
        {
            return 0;
        }
        DateTimeOffset cutoff = now - Options.SnapshotRetention;
        var expired = snapshots.Take(snapshots.Count - 1).Where(s => s.CreatedAt < cutoff).ToList();
        LtxFileInfo oldestKept = snapshots.Except(expired).First();
        int deleted = expired.Count;
        if (expired.Count > 0)
        {
            await DeleteAsync(expired, cancellationToken).ConfigureAwait(false);
        }
        for (int level = 0; level <= Options.Levels.Count; level++)
        {
            List<LtxFileInfo> files = await ListAsync(level, cancellationToken).ConfigureAwait(false);
            var obsolete = files.Take(files.Count - 1).Where(f => f.MaxTxid <= oldestKept.MaxTxid).ToList();
            if (obsolete.Count > 0)
            {
                await DeleteAsync(obsolete, cancellationToken).ConfigureAwait(false);
                deleted += obsolete.Count;
            }
        }
        return deleted;
    }

    /// <summary>
    /// Deletes L0 files already covered by L1 and older than the L0 retention, in order, stopping at the
    /// first that is too recent; the newest L0 file always stays (readers follow L0 from it).
    /// </summary>
    public async ValueTask<int> EnforceL0RetentionAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        LtxFileInfo? newestL1 = await NewestAsync(1, cancellationToken).ConfigureAwait(false);
        if (newestL1 is null)
        {
            RecordL0Retention(0, 0, 0);
            return 0;
        }
        List<LtxFileInfo> l0 = await ListAsync(0, cancellationToken).ConfigureAwait(false);
        var delete = new List<LtxFileInfo>();
        int i = 0;
        for (; i < l0.Count - 1; i++)
        {
            LtxFileInfo f = l0[i];
            if (f.MaxTxid > newestL1.MaxTxid || f.CreatedAt > now - Options.L0Retention)
            {
                break;
            }
            delete.Add(f);
        }
        // The rest, classified as upstream counts them: from the first file that is too recent on, every file is
        // "too_recent"; before it, files not yet in L1 are "not_compacted" (the newest file, kept, is neither).
        int notCompacted = 0, tooRecent = 0;
        for (; i < l0.Count; i++)
        {
            if (l0[i].CreatedAt > now - Options.L0Retention)
            {
                tooRecent = l0.Count - i;
                break;
            }
            if (l0[i].MaxTxid > newestL1.MaxTxid)
            {
                notCompacted++;
            }
        }
        RecordL0Retention(delete.Count, notCompacted, tooRecent);
        if (delete.Count > 0)
        {
            await DeleteAsync(delete, cancellationToken).ConfigureAwait(false);
        }
        return delete.Count;
    }

    private void RecordL0Retention(int eligible, int notCompacted, int tooRecent)
    {
        // Upstream tags this gauge with the database's file name, not its path.
        KeyValuePair<string, object?> db = LitestreamMetrics.DbTag(Path.GetFileName(_replica.Db.Path));
        LitestreamMetrics.L0RetentionFiles.Record(eligible, db, new("status", "eligible"));
        LitestreamMetrics.L0RetentionFiles.Record(notCompacted, db, new("status", "not_compacted"));
        LitestreamMetrics.L0RetentionFiles.Record(tooRecent, db, new("status", "too_recent"));
    }

    /// <summary>Opens a source from the local copy when there is one (Local true), else from the replica.</summary>
    private async ValueTask<(Stream Stream, bool Local)> OpenLocalFirstAsync(LtxFileInfo info, CancellationToken cancellationToken)
    {
        if (info.Level == 0 && info.MinTxid == info.MaxTxid && LocalL0IsUploaded)
        {
            string local = _replica.Db.L0FilePath(info.MaxTxid);
            try
            {
                return (new FileStream(local, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 64 * 1024), true);
            }
            catch (FileNotFoundException)
            {
                // Pruned locally past the backlog's cache bound (or before a restart's first pass knew level 1): read the replica's copy.
            }
        }
        return (await Client.OpenLtxFileAsync(info.Level, info.MinTxid, info.MaxTxid, 0, 0, cancellationToken).ConfigureAwait(false), false);
    }

    /// <summary>
    /// Lists the replica (one request) to confirm it still holds every source read from a local copy: merged from local
    /// copies alone, a replica someone emptied would get a level-1 file covering the TXID its check asks about, and
    /// the loss would go unnoticed while the chain below it is gone. Throws <see cref="ReplicaFileNotFoundException"/>
    /// as a download of the missing file would; the replica's check then finds the loss and uploads a snapshot.
    /// </summary>
    private async ValueTask ConfirmOnReplicaAsync(List<LtxFileInfo> sources, CancellationToken cancellationToken)
    {
        int next = 0;
        await foreach (LtxFileInfo file in Client.ListLtxFilesAsync(0, sources[0].MinTxid, useMetadata: false, cancellationToken).ConfigureAwait(false))
        {
            if (file.MinTxid == sources[next].MinTxid && file.MaxTxid == sources[next].MaxTxid && ++next == sources.Count)
            {
                return;
            }
            if (file.MinTxid > sources[next].MinTxid)
            {
                break;
            }
        }
        Listing.Invalidate();
        throw new ReplicaFileNotFoundException($"level 0, txid {sources[next].MinTxid} (the replica no longer holds a file merged from its local copy)");
    }

    private ReplicaListing Listing => _replica.Listing;

    private ValueTask<List<LtxFileInfo>> ListAsync(int level, CancellationToken cancellationToken) => Listing.GetAsync(level, cancellationToken);

    private ValueTask<LtxFileInfo?> NewestAsync(int level, CancellationToken cancellationToken) => Listing.NewestAsync(level, cancellationToken);

    private async ValueTask DeleteAsync(List<LtxFileInfo> files, CancellationToken cancellationToken)
    {
        _replica.Lease?.EnsureHeld();
        await Client.DeleteLtxFilesAsync(files, cancellationToken).ConfigureAwait(false);
        Listing.Removed(files);
    }

    // The usual levels' job names, shared by every database's compactor.
    private static readonly string[] s_levelJobNames = [.. Enumerable.Range(0, LtxConstants.SnapshotLevel).Select(l => $"compaction L{l}")];

    // One delegate a job (a thousand databases have five each): the level says which work a tick does.
    private Task Start(StoreScheduler scheduler, string kind, TimeSpan interval, int level, CancellationToken cancellationToken)
        => new PeriodicJob(scheduler, kind, _replica.Db.Path, interval, ct => TickAsync(level, ct), cancellationToken).StartAsync();

    /// <summary>The work of one tick of <paramref name="level"/>: a level's compaction, the snapshot (level 9, then snapshot retention) or L0 retention (level 0).</summary>
    private async Task TickWorkAsync(int level, CancellationToken cancellationToken)
    {
        if (level == 0)
        {
            await EnforceL0RetentionAsync(DateTimeOffset.UtcNow, cancellationToken).ConfigureAwait(false);
        }
        else if (level == LtxConstants.SnapshotLevel)
        {
            await SnapshotAsync(cancellationToken).ConfigureAwait(false);
            if (Options.RetentionEnabled)
            {
                await EnforceSnapshotRetentionAsync(DateTimeOffset.UtcNow, cancellationToken).ConfigureAwait(false);
            }
        }
        else
        {
            await CompactAsync(level, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>One tick: waits for the store's gate, runs <paramref name="level"/>'s work, logs a failure (retried next interval).</summary>
    private async Task TickAsync(int level, CancellationToken cancellationToken)
    {
        // Every database's ticks fall on the same wall-clock multiples: a thousand of them would all compact at once.
        if (_gate is not null)
        {
            await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        try
        {
            await TickWorkAsync(level, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Listing.Invalidate(); // the replica may hold a part of what failed: list it again next time
            Log.Warning(_logger, _replica.Db.Path, $"compaction failed (retrying next interval): {e.Message}");
        }
        finally
        {
            _gate?.Release();
        }
    }
}
