using System.Runtime.CompilerServices;
using Litestream.Events;
using Litestream.Internal;
using Litestream.Ltx;
using Litestream.Restore;
using Litestream.Storage;
using Microsoft.Win32.SafeHandles;

namespace Litestream.Vfs;

/// <summary>
/// One replica read through the VFS: the latest snapshot (page → frame map), kept current by a poll loop,
/// and a page cache shared by every connection reading it. Snapshots are immutable, so a reader that pinned
/// one keeps a single TXID however many polls happen meanwhile.
/// </summary>
internal sealed class VfsReplica : IDisposable
{
    private const int FetchParallelism = 8;
    private const int MissingFileAttempts = 6;
    private static readonly TimeSpan s_missingFileBackoff = TimeSpan.FromMilliseconds(15);
    private readonly IReplicaClient _client;
    private readonly VfsReplicaOptions _options;
    // The page cipher of each encrypted file the snapshots map pages to, made once when its header is read.
    private readonly ConditionalWeakTable<LtxFileInfo, LtxFileCipher> _ciphers = new();
    private int _plainWarned;
    private readonly SemaphoreSlim _startLock = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private VfsPageCache? _cache;
    private VfsSnapshot? _latest;
    private Task? _pollLoop;
    private long _lastPollTicks;

    public VfsReplica(string name, IReplicaClient client, VfsReplicaOptions options)
    {
        Name = name;
        _client = client;
        _options = options;
    }

    /// <summary>The name (or URL) the replica was opened under, for messages.</summary>
    public string Name { get; }

    /// <summary>The replica's storage (owned by whoever added it).</summary>
    public IReplicaClient Client => _client;

    /// <summary>Background hydration to a local copy, when <see cref="VfsReplicaOptions.HydrationEnabled"/>; null before the first open.</summary>
    public VfsHydrator? Hydrator { get; private set; }

    /// <summary>The newest snapshot, or null before the first successful open.</summary>
    public VfsSnapshot? Latest => Volatile.Read(ref _latest);

    /// <summary>The last poll error, cleared by a successful poll.</summary>
    public string? LastPollError { get; private set; }

    /// <summary>Seconds since the last successful poll (or the initial build); -1 when there was none.</summary>
    public long LagSeconds
    {
        get
        {
            long ticks = Interlocked.Read(ref _lastPollTicks);
            return ticks == 0 ? -1 : (long)TimeSpan.FromTicks(DateTime.UtcNow.Ticks - ticks).TotalSeconds;
        }
    }

    /// <summary>Builds the first snapshot if there is none yet and starts polling; returns the latest snapshot.</summary>
    public VfsSnapshot EnsureOpen()
    {
        if (Latest is { } latest)
        {
            return latest;
        }
        _startLock.Wait();
        try
        {
            if (Latest is { } again)
            {
                return again;
            }
            if (_options.WriteEnabled && _options.Encryption is not null)
            {
                throw new NotSupportedException("write mode does not encrypt the files it uploads: open an encrypted replica without write mode");
            }
            VfsSnapshot snapshot;
            try
            {
                snapshot = Sync(BuildAsync(Txid.Zero, null, CancellationToken.None));
            }
            catch (NoBackupException) when (_options.WriteEnabled)
            {
                // Write mode creates the database: an empty one until its first upload.
                snapshot = new VfsSnapshot(Txid.Zero, 0, [], default, null);
            }
            EnsureCache(snapshot);
            Volatile.Write(ref _latest, snapshot);
            Interlocked.Exchange(ref _lastPollTicks, DateTime.UtcNow.Ticks);
            if (_options.WriteEnabled)
            {
                Writer = new VfsWriter(this, _client, _options, snapshot);
            }
            _pollLoop = Task.Run(() => PollLoopAsync(_stop.Token));
            if (_options.HydrationEnabled && _options.WriteEnabled)
            {
                VfsLog.Write(VfsLog.Level.Warn, $"hydrate {Name}: not with write mode; reading from the replica only");
            }
            else if (_options.HydrationEnabled)
            {
                try
                {
                    Hydrator = new VfsHydrator(this, _client, _options);
                    Hydrator.Start();
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // Reads from the replica work without a copy: the replica opens, unhydrated, and says why.
                    VfsLog.Write(VfsLog.Level.Error, $"hydrate {Name}: {e.Message}; reading from the replica only");
                }
            }
            return snapshot;
        }
        finally
        {
            _startLock.Release();
        }
    }

    private int _openFiles;

    /// <summary>A connection opened the database.</summary>
    public void FileOpened() => Interlocked.Increment(ref _openFiles);

    /// <summary>A connection closed it; after the last one a writer uploads what it buffered and releases its lease.</summary>
    public void FileClosed()
    {
        if (Interlocked.Decrement(ref _openFiles) == 0)
        {
            Writer?.Idle();
        }
    }

    /// <summary>Write mode, when <see cref="VfsReplicaOptions.WriteEnabled"/>; null before the first open.</summary>
    public VfsWriter? Writer { get; private set; }

    /// <summary>The page cache, made once the page size is known (a new database in write mode has none until its first upload).</summary>
    private void EnsureCache(VfsSnapshot snapshot)
    {
        if (_cache is null && snapshot.PageSize != 0)
        {
            Interlocked.CompareExchange(ref _cache, new VfsPageCache(_options.CacheSize, snapshot.PageSize), null);
        }
    }

    /// <summary>
    /// Layers the file a VFS writer just uploaded over <paramref name="baseline"/> (its header and page index read back
    /// from the replica, checked as any file) and publishes the result as the latest snapshot.
    /// </summary>
    public async Task<VfsSnapshot> AppendUploadedAsync(VfsSnapshot baseline, LtxFileInfo info, CancellationToken cancellationToken)
    {
        VfsSnapshot uploaded = await ApplyAsync(baseline.Txid == Txid.Zero ? null : baseline, [info], cancellationToken).ConfigureAwait(false);
        EnsureCache(uploaded);
        VfsSnapshot? current = Latest;
        while ((current is null || current.Txid < uploaded.Txid) && Interlocked.CompareExchange(ref _latest, uploaded, current) != current)
        {
            current = Latest;
        }
        return uploaded;
    }

    /// <summary>Builds the snapshot as of <paramref name="timestamp"/> (files created before it) without publishing it.</summary>
    public VfsSnapshot BuildAt(DateTimeOffset timestamp) => Sync(BuildAsync(Txid.Zero, timestamp, CancellationToken.None));

    /// <summary>
    /// Reads page <paramref name="pgno"/> of <paramref name="snapshot"/> into <paramref name="page"/> (PageSize
    /// bytes). When a file the snapshot maps the page to has vanished since the index was built (compaction or
    /// retention deleted it), the index is rebuilt at the same TXID from the files the replica holds now and
    /// the read retried (upstream: 6 attempts, 15 ms·n apart); <paramref name="snapshot"/> is then that
    /// rebuilt snapshot, the same database in other files, for the caller to keep reading from.
    /// </summary>
    /// <exception cref="LtxFormatException">The page is missing from the index or its frame does not decode.</exception>
    /// <exception cref="VfsBusyException">The page's file stayed missing, or no file set rebuilds the TXID any more.</exception>
    public void ReadPage(ref VfsSnapshot snapshot, uint pgno, Span<byte> page)
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                ReadPageOnce(snapshot, pgno, page);
                return;
            }
            catch (ReplicaFileNotFoundException e)
            {
                VfsLog.Write(VfsLog.Level.Info, $"read {Name}: page {pgno} of txid {snapshot.Txid}: {e.Message}; rebuilding the index (attempt {attempt})");
                if (attempt == MissingFileAttempts)
                {
                    RefreshLatest(snapshot);
                    throw new VfsBusyException($"page {pgno} of txid {snapshot.Txid}: {e.Message} (the index was rebuilt {attempt - 1} times)", e);
                }
                Thread.Sleep(s_missingFileBackoff * attempt);
                VfsSnapshot rebuilt;
                try
                {
                    rebuilt = Sync(BuildAsync(snapshot.Txid, null, CancellationToken.None));
                }
                catch (TxNotAvailableException gone)
                {
                    // Compaction moved past this TXID: the replica no longer holds this exact state.
                    RefreshLatest(snapshot);
                    throw new VfsBusyException($"page {pgno} of txid {snapshot.Txid}: {e.Message}, and the replica no longer rebuilds txid {snapshot.Txid} ({gone.Message})", e);
                }
                Interlocked.CompareExchange(ref _latest, rebuilt, snapshot);
                snapshot = rebuilt;
            }
        }
    }

    /// <summary>After a read gave up on <paramref name="stale"/>: rebuilds the latest snapshot if it is no newer, so the next transaction reads current files.</summary>
    private void RefreshLatest(VfsSnapshot stale)
    {
        try
        {
            VfsSnapshot latest = Sync(BuildAsync(Txid.Zero, null, CancellationToken.None));
            if (Latest is { } current && current.Txid <= stale.Txid && latest.Txid >= current.Txid)
            {
                Interlocked.CompareExchange(ref _latest, latest, current);
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            VfsLog.Write(VfsLog.Level.Warn, $"rebuild {Name}: {e.Message}");
        }
    }

    private void ReadPageOnce(VfsSnapshot snapshot, uint pgno, Span<byte> page)
    {
        PageRef source = snapshot.Pages[pgno - 1];
        if (source.File is null)
        {
            if (pgno == snapshot.LockPage)
            {
                page.Clear();
                return;
            }
            LtxThrow.Format($"page {pgno} is in no ltx file of txid {snapshot.Txid}");
        }
        VfsPageCache cache = _cache!;
        if (cache.TryGet(pgno, source, page))
        {
            return;
        }
        // Decode straight into a cache-owned array (no per-miss page allocation), copy it out before
        // committing: once committed, another thread's miss may evict and reuse it.
        VfsPageCache.Entry entry = cache.Rent();
        try
        {
            FetchPage(source, pgno, entry.Data);
        }
        catch
        {
            cache.Return(entry);
            throw;
        }
        entry.Data.CopyTo(page);
        cache.Commit(entry, pgno, source);
    }

    /// <summary>One ranged read of the page's frame, decoded into <paramref name="page"/>.</summary>
    private void FetchPage(PageRef source, uint pgno, byte[] page)
    {
        LtxFileInfo info = source.File!;
        var entry = new LtxPageIndexEntry(pgno, source.Offset, source.Size);
        if (_client.TryGetLocalPath(info.Level, info.MinTxid, info.MaxTxid, out string? path))
        {
            // A local file: one positional read on SQLite's thread (no stream, no thread-pool hop).
            SafeFileHandle handle;
            try
            {
                FileUtil.RequireRegularFile(path);
                handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
            {
                throw new ReplicaFileNotFoundException(path, e);
            }
            using (handle)
            {
                LtxRandomAccess.ReadPage(handle, entry, page, CipherOf(info));
            }
            return;
        }
        Sync(LtxRandomAccess.ReadPageAsync(RangeReader(info), entry, page, CipherOf(info), CancellationToken.None));
    }

    /// <summary>Lists L0 for files after the latest TXID and applies them; rebuilds from a plan when L0 does not continue the chain.</summary>
    public async Task PollAsync(CancellationToken cancellationToken)
    {
        VfsSnapshot current = Latest ?? throw new InvalidOperationException("replica is not open");
        var files = new List<LtxFileInfo>();
        ulong next = current.Txid.Value + 1;
        bool gap = false;
        await foreach (LtxFileInfo info in _client.ListLtxFilesAsync(0, new Txid(next), false, cancellationToken).ConfigureAwait(false))
        {
            if (info.MinTxid.Value != next)
            {
                gap = files.Count == 0;
                break;
            }
            files.Add(info);
            next = info.MaxTxid.Value + 1;
        }
        VfsSnapshot? updated = gap
            ? await BuildAsync(Txid.Zero, null, cancellationToken).ConfigureAwait(false)
            : files.Count > 0 ? await ApplyAsync(current.Txid == Txid.Zero ? null : current, files, cancellationToken).ConfigureAwait(false) : null;
        if (updated is not null)
        {
            EnsureCache(updated);
        }
        if (updated is not null && updated.Txid > current.Txid)
        {
            Volatile.Write(ref _latest, updated);
            // After a gap the list is empty (the VFS rebuilt from a restore plan): the size is 0, as documented.
            _options.Applied?.Invoke(new ReplicationEvent(ReplicationEventKind.Tx, Name) { Txid = updated.Txid, Timestamp = updated.CreatedAt, Size = files.Sum(f => f.Size) });
        }
        Interlocked.Exchange(ref _lastPollTicks, DateTime.UtcNow.Ticks);
    }

    private async Task PollLoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_options.PollInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                try
                {
                    await PollAsync(cancellationToken).ConfigureAwait(false);
                    LastPollError = null;
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // The last good snapshot stays in use; the lag grows and the error is reported once per streak.
                    if (LastPollError != e.Message)
                    {
                        VfsLog.Write(VfsLog.Level.Error, $"poll {Name}: {e.Message}");
                    }
                    LastPollError = e.Message;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Builds the snapshot of the restore plan at <paramref name="txid"/> (zero: latest) or before <paramref name="timestamp"/>.</summary>
    private async Task<VfsSnapshot> BuildAsync(Txid txid, DateTimeOffset? timestamp, CancellationToken cancellationToken)
    {
        IReadOnlyList<LtxFileInfo> plan = await RestorePlanner.PlanAsync(_client, txid, timestamp, cancellationToken).ConfigureAwait(false);
        return await ApplyAsync(null, plan, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Fetches each file's header and page index (ranged reads, several at once) and layers them over <paramref name="baseline"/>.</summary>
    private async Task<VfsSnapshot> ApplyAsync(VfsSnapshot? baseline, IReadOnlyList<LtxFileInfo> files, CancellationToken cancellationToken)
    {
        var fetched = new (LtxHeader Header, LtxPageIndex Index)[files.Count];
        using var gate = new SemaphoreSlim(FetchParallelism);
        await Task.WhenAll(files.Select(async (info, i) =>
        {
            await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                LtxRangeReader read = RangeReader(info);
                byte[] header = new byte[LtxHeader.Size];
                int n = await read(0, header, cancellationToken).ConfigureAwait(false);
                if (n != header.Length)
                {
                    LtxThrow.Format($"short ltx header in {LtxFileName.Format(info.MinTxid, info.MaxTxid)} (level {info.Level})");
                }
                fetched[i] = (LtxHeader.Read(header), await LtxRandomAccess.ReadPageIndexAsync(read, info.Size, cancellationToken).ConfigureAwait(false));
            }
            finally
            {
                gate.Release();
            }
        })).ConfigureAwait(false);

        PageRef[] pages = baseline?.Pages ?? [];
        uint pageSize = baseline?.PageSize ?? 0;
        Txid txid = baseline?.Txid ?? Txid.Zero;
        DateTimeOffset createdAt = baseline?.CreatedAt ?? default;
        bool copied = false;
        LtxHeader? previous = baseline?.Last;
        for (int i = 0; i < files.Count; i++)
        {
            (LtxHeader header, LtxPageIndex index) = fetched[i];
            try
            {
                CheckFile(files[i], header, index, first: baseline is null && i == 0, pageSize, (uint)pages.Length);
                if (previous is { } before)
                {
                    LtxTxidChain.Check(before, header, allowOverlap: true);
                }
            }
            catch (LtxFormatException e)
            {
                LtxThrow.InFile(RestorePlan.FileName(files[i]), e);
            }
            KeepCipher(files[i], header);
            previous = header;
            pageSize = header.PageSize;
            if (!copied || pages.Length != header.Commit)
            {
                var resized = new PageRef[header.Commit];
                Array.Copy(pages, resized, Math.Min(pages.Length, resized.Length));
                pages = resized;
                copied = true;
            }
            foreach (LtxPageIndexEntry entry in index.Entries)
            {
                if (entry.Pgno <= header.Commit)
                {
                    pages[entry.Pgno - 1] = new PageRef(files[i], entry.Offset, (int)entry.Size);
                }
            }
            txid = header.MaxTxid;
            createdAt = header.CreatedAt;
        }
        return new VfsSnapshot(txid, pageSize, pages, createdAt, previous);
    }

    /// <summary>
    /// Makes the page cipher of an encrypted file (its key found by the header's key id; a missing key fails the
    /// open or poll, naming the key id, before any page is served). A plain file read with keys configured is
    /// served, with one WARN, as restore does.
    /// </summary>
    /// <exception cref="LtxKeyMissingException">No configured key has the file's key id.</exception>
    private void KeepCipher(LtxFileInfo info, in LtxHeader header)
    {
        if (header.IsEncrypted)
        {
            LtxKeyRing keys = _options.Encryption ?? throw new LtxKeyMissingException(header.KeyId, null);
            _ciphers.AddOrUpdate(info, keys.Find(header.KeyId).ForFile(header));
        }
        else if (_options.Encryption is not null && Interlocked.Exchange(ref _plainWarned, 1) == 0)
        {
            VfsLog.Write(VfsLog.Level.Warn, $"open {Name}: {RestorePlan.FileName(info)} is not encrypted although an encryption key is configured");
        }
    }

    private LtxFileCipher? CipherOf(LtxFileInfo info) => _ciphers.TryGetValue(info, out LtxFileCipher? cipher) ? cipher : null;

    /// <summary>
    /// What a restore checks before applying a file, on its header and page index (the VFS maps pages without
    /// decoding the file): the header is valid and names the file it is in, a build starts with a snapshot and
    /// level 9 holds only snapshots, a snapshot lists every page 1..Commit, and a file grows the database
    /// only with its own pages. Such a file would otherwise be served as a database with pages of zeros, or
    /// make the page map a Commit of up to 2^32-1 entries.
    /// </summary>
    private static void CheckFile(LtxFileInfo info, LtxHeader header, LtxPageIndex index, bool first, uint pageSize, uint previousCommit)
    {
        header.Validate();
        RestorePlan.CheckFile(info, header, first);
        if (pageSize != 0 && header.PageSize != pageSize)
        {
            LtxThrow.Format($"page size changed from {pageSize} to {header.PageSize} at txid {header.MinTxid}");
        }
        index.Validate(header);
        DatabaseGrowth.Check(header, previousCommit, index.Entries.Count == 0 ? 0 : index.Entries[^1].Pgno);
        if (header.Commit > Array.MaxLength)
        {
            LtxThrow.Format($"a database of {header.Commit} pages is more than the VFS can map (at most {Array.MaxLength})");
        }
    }

    private LtxRangeReader RangeReader(LtxFileInfo info) => async (offset, destination, cancellationToken) =>
    {
        Stream stream = await _client.OpenLtxFileAsync(info.Level, info.MinTxid, info.MaxTxid, offset, destination.Length, cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            int total = 0;
            while (total < destination.Length)
            {
                int n = await stream.ReadAsync(destination[total..], cancellationToken).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }
                total += n;
            }
            return total;
        }
    };

    // SQLite calls the VFS synchronously on its own threads (no synchronization context): block on the I/O.
    private static T Sync<T>(Task<T> task) => task.GetAwaiter().GetResult();

    private static T Sync<T>(ValueTask<T> task) => task.IsCompletedSuccessfully ? task.Result : task.AsTask().GetAwaiter().GetResult();

    public void Dispose()
    {
        _stop.Cancel();
        try
        {
            _pollLoop?.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }
        Hydrator?.Dispose();
        Writer?.Dispose();
        _stop.Dispose();
    }
}
