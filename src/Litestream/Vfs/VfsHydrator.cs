using Litestream.Internal;
using Litestream.Ltx;
using Litestream.Restore;
using Litestream.Storage;
using Microsoft.Win32.SafeHandles;

namespace Litestream.Vfs;

/// <summary>
/// Background hydration of one VFS replica (upstream's <c>Hydrator</c>): the whole database is restored to a
/// local file with the segmented parallel restore (temp file, verified LTX checksums, rename), while reads keep
/// going to the replica; then a read transaction whose pinned TXID is the local copy's reads the local file,
/// and the copy follows new L0 files in place. A copy is only ever read at exactly the TXID it holds: applying
/// files waits until no reader is pinned on it, and readers that start meanwhile read the replica. A gap in the
/// L0 chain (retention) or a failed apply discards the copy and hydrates again. Nothing of a previous process
/// is trusted: every start downloads afresh, so a copy left by a kill -9 is never read.
/// </summary>
internal sealed class VfsHydrator : ITransferProgress, IDisposable
{
    private const int RestoreParallelism = 8;
    private static readonly TimeSpan s_failureBackoff = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan s_disposeWait = TimeSpan.FromSeconds(5);
    private readonly VfsReplica _replica;
    private readonly IReplicaClient _client;
    private readonly TimeSpan _interval;
    private readonly LtxKeyRing? _keys;
    private readonly string? _ownedDirectory;
    private readonly CancellationTokenSource _stop = new();
    private readonly FileStream _claim;
    private readonly object _gate = new();
    private SafeFileHandle? _file;
    private uint _pageSize;
    private Txid _localTxid; // zero: no usable local copy
    private int _pins;
    private bool _applying;
    private long _totalBytes;
    private long _bytes;
    private long _reads;
    private Task? _run;

    public VfsHydrator(VfsReplica replica, IReplicaClient client, VfsReplicaOptions options)
    {
        _replica = replica;
        _client = client;
        _interval = options.PollInterval;
        _keys = options.Encryption;
        if (string.IsNullOrEmpty(options.HydrationPath))
        {
            _ownedDirectory = Directory.CreateTempSubdirectory("litestream-hydration-").FullName;
            FilePath = Path.Combine(_ownedDirectory, "hydration.db");
        }
        else
        {
            FilePath = Path.GetFullPath(options.HydrationPath);
            Directory.CreateDirectory(Path.GetDirectoryName(FilePath)!);
        }
        // Two replicas hydrating to one path (in this process or another) would rename each other's temp
        // files into place: the copy's path is claimed with an exclusive lock (flock) on <path>.lock.
        try
        {
            _claim = new FileStream(FilePath + ".lock", FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e)
        {
            throw new IOException($"hydration path {FilePath} is in use by another replica or process ({e.Message})", e);
        }
    }

    /// <summary>The local copy's path (<c>PRAGMA litestream_hydration_file</c>).</summary>
    public string FilePath { get; }

    /// <summary>The TXID the local copy holds; zero while there is none.</summary>
    public Txid LocalTxid
    {
        get
        {
            lock (_gate)
            {
                return _localTxid;
            }
        }
    }

    /// <summary>
    /// Percent hydrated (<c>PRAGMA litestream_hydration_progress</c>): bytes of the restore plan downloaded, and
    /// 100 once a local copy exists. Below 100 again while a discarded copy is hydrated anew.
    /// </summary>
    public double Progress
    {
        get
        {
            if (LocalTxid != Txid.Zero)
            {
                return 100;
            }
            long total = Interlocked.Read(ref _totalBytes);
            return total <= 0 ? 0 : Math.Min(99.9, Interlocked.Read(ref _bytes) * 100.0 / total);
        }
    }

    /// <summary>Reads served from the local copy (for tests and status).</summary>
    public long LocalReads => Interlocked.Read(ref _reads);

    /// <summary>The last hydration or follow error, cleared by a successful round.</summary>
    public string? LastError { get; private set; }

    /// <summary>Starts hydrating and following in the background.</summary>
    public void Start() => _run = Task.Run(() => RunAsync(_stop.Token));

    /// <summary>
    /// Pins the local copy for a read transaction at <paramref name="txid"/>: true when the copy holds exactly
    /// that TXID and no apply is under way; the copy then stays unchanged until <see cref="Unpin"/>.
    /// </summary>
    public bool TryPin(Txid txid)
    {
        lock (_gate)
        {
            if (_applying || _localTxid == Txid.Zero || _localTxid != txid)
            {
                return false;
            }
            _pins++;
            return true;
        }
    }

    /// <summary>Ends a read transaction that <see cref="TryPin"/> pinned.</summary>
    public void Unpin()
    {
        lock (_gate)
        {
            _pins--;
            if (_pins == 0)
            {
                Monitor.PulseAll(_gate);
            }
        }
    }

    /// <summary>Fills <paramref name="destination"/> from the pinned local copy at <paramref name="offset"/> (the caller keeps it within the database size).</summary>
    public void Read(Span<byte> destination, long offset)
    {
        SafeFileHandle file = _file ?? throw new InvalidOperationException("no hydrated copy is pinned");
        Interlocked.Increment(ref _reads);
        int done = 0;
        while (done < destination.Length)
        {
            int n = RandomAccess.Read(file, destination[done..], offset + done);
            if (n == 0)
            {
                throw new IOException($"hydrated copy {FilePath} is shorter than its database ({offset + done} bytes)");
            }
            done += n;
        }
    }

    void ITransferProgress.AddTotal(long bytes, int files) => Interlocked.Add(ref _totalBytes, bytes);

    void ITransferProgress.AddBytes(long bytes) => Interlocked.Add(ref _bytes, bytes);

    void ITransferProgress.AddFile()
    {
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            TimeSpan delay = _interval;
            try
            {
                if (LocalTxid == Txid.Zero)
                {
                    await HydrateAsync(cancellationToken).ConfigureAwait(false);
                }
                await FollowAsync(cancellationToken).ConfigureAwait(false);
                LastError = null;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // Reads keep going to the replica; the error is logged once per streak and retried.
                if (LastError != e.Message)
                {
                    VfsLog.Write(VfsLog.Level.Error, $"hydrate {_replica.Name} to {FilePath}: {e.Message}");
                }
                LastError = e.Message;
                delay = delay > s_failureBackoff ? delay : s_failureBackoff;
            }
            try
            {
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Restores the replica's latest snapshot TXID to the local file (temp file + rename) and opens it.</summary>
    private async Task HydrateAsync(CancellationToken cancellationToken)
    {
        Txid target = _replica.Latest!.Txid;
        IReadOnlyList<LtxFileInfo> plan = await RestorePlanner.PlanAsync(_client, target, null, cancellationToken).ConfigureAwait(false);
        Interlocked.Exchange(ref _bytes, 0);
        Interlocked.Exchange(ref _totalBytes, plan.Sum(f => f.Size));
        VfsLog.Write(VfsLog.Level.Info, $"hydrate {_replica.Name}: downloading txid {target} ({plan.Count} files) to {FilePath}");
        RestoreResult restored = await Restorer.RestoreAsync(new ProgressReplicaClient(_client, this), RestorePlan.Of(plan), new RestoreOptions
        {
            OutputPath = FilePath,
            Force = true,
            // The LTX checksums are verified as the files apply; SQLite's check would read the whole copy again.
            IntegrityCheck = IntegrityCheck.None,
            Parallelism = RestoreParallelism,
            Encryption = _keys,
        }, cancellationToken).ConfigureAwait(false);
        SafeFileHandle file = File.OpenHandle(FilePath, FileMode.Open, FileAccess.ReadWrite, FileShare.Read);
        try
        {
            BeginApply(cancellationToken);
        }
        catch
        {
            file.Dispose();
            throw;
        }
        SafeFileHandle? old = _file;
        _file = file;
        _pageSize = restored.PageSize;
        EndApply(restored.Txid);
        old?.Dispose();
        VfsLog.Write(VfsLog.Level.Info, $"hydrate {_replica.Name}: local copy at txid {restored.Txid}, reads switch to {FilePath}");
    }

    /// <summary>Applies the L0 files between the local copy and the replica's latest snapshot; a gap discards the copy.</summary>
    private async Task FollowAsync(CancellationToken cancellationToken)
    {
        Txid local = LocalTxid;
        Txid latest = _replica.Latest!.Txid;
        if (local == Txid.Zero || latest <= local)
        {
            return;
        }
        var files = new List<LtxFileInfo>();
        ulong next = local.Value + 1;
        await foreach (LtxFileInfo info in _client.ListLtxFilesAsync(0, new Txid(next), false, cancellationToken).ConfigureAwait(false))
        {
            if (info.MinTxid.Value != next || info.MaxTxid > latest)
            {
                break;
            }
            files.Add(info);
            next = info.MaxTxid.Value + 1;
        }
        if (files.Count == 0 || files[^1].MaxTxid != latest)
        {
            // Retention removed L0 files the copy needs (or they never line up with the latest snapshot).
            VfsLog.Write(VfsLog.Level.Info, $"hydrate {_replica.Name}: no L0 chain from txid {local} to {latest}; hydrating again");
            BeginApply(cancellationToken);
            EndApply(Txid.Zero);
            return;
        }
        BeginApply(cancellationToken);
        Txid reached = Txid.Zero;
        try
        {
            foreach (LtxFileInfo info in files)
            {
                await ApplyFileAsync(info, cancellationToken).ConfigureAwait(false);
            }
            reached = latest;
        }
        finally
        {
            // A file that failed half-way left pages of two TXIDs: the copy is discarded, never read.
            EndApply(reached);
        }
    }

    /// <summary>
    /// Applies one LTX file to the copy in place with the restore's streamed applier (page runs) and cuts it to the
    /// file's commit size.
    /// </summary>
    private async Task ApplyFileAsync(LtxFileInfo info, CancellationToken cancellationToken)
    {
        SafeFileHandle file = _file!;
        await using StreamedFileApplier applier = StreamedFileApplier.Start(_client, info, _keys, cancellationToken);
        try
        {
            LtxHeader header = await applier.OpenAsync(cancellationToken).ConfigureAwait(false);
            RestorePlan.CheckFile(info, header, first: false);
            if (header.PageSize != _pageSize)
            {
                LtxThrow.Format($"page size changed from {_pageSize} to {header.PageSize}");
            }
            using var target = RestoreTarget.InPlace(file);
            await applier.ApplyAsync(target, (uint)(RandomAccess.GetLength(file) / _pageSize), cancellationToken).ConfigureAwait(false);
            target.Commit(IntegrityCheck.None, cancellationToken);
            target.Resize((long)header.Commit * _pageSize);
        }
        catch (LtxFormatException e)
        {
            LtxThrow.InFile(RestorePlan.FileName(info), e);
        }
    }

    /// <summary>Stops new pins and waits until no read transaction is pinned on the copy.</summary>
    private void BeginApply(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _applying = true;
            while (_pins > 0)
            {
                if (cancellationToken.IsCancellationRequested)
                {
                    _applying = false;
                    cancellationToken.ThrowIfCancellationRequested();
                }
                Monitor.Wait(_gate, TimeSpan.FromMilliseconds(100));
            }
        }
    }

    private void EndApply(Txid txid)
    {
        lock (_gate)
        {
            _localTxid = txid;
            _applying = false;
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        try
        {
            _run?.Wait(s_disposeWait);
        }
        catch (AggregateException)
        {
        }
        lock (_gate)
        {
            // Connections still open read the replica from now on; one pinned on the copy gets a moment to finish.
            _localTxid = Txid.Zero;
            long deadline = Environment.TickCount64 + (long)s_disposeWait.TotalMilliseconds;
            while (_pins > 0 && Environment.TickCount64 < deadline)
            {
                Monitor.Wait(_gate, TimeSpan.FromMilliseconds(100));
            }
            _file?.Dispose();
        }
        FileUtil.TryDelete(FilePath + ".lock");
        _claim.Dispose();
        if (_ownedDirectory is not null)
        {
            try
            {
                Directory.Delete(_ownedDirectory, recursive: true);
            }
            catch (IOException e)
            {
                VfsLog.Write(VfsLog.Level.Warn, $"hydrate {_replica.Name}: cannot delete {_ownedDirectory}: {e.Message}");
            }
        }
        _stop.Dispose();
    }
}
