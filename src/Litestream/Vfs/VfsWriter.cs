using System.Buffers;
using Litestream.Lease;
using Litestream.Ltx;
using Litestream.Restore;
using Litestream.Storage;
using Microsoft.Extensions.Logging.Abstractions;

namespace Litestream.Vfs;

/// <summary>
/// Write mode of one replica read through the VFS (<see cref="VfsReplicaOptions.WriteEnabled"/>): one connection of
/// this process writes at a time, under the replica's lease (taken by the first write transaction, renewed in the
/// background); commits are published to this process's connections at once and uploaded by a sync loop as L0 files
/// at the next TXIDs, as <c>replicate</c> writes them (no checksums, the lease generation as NodeID). A conflict (the
/// replica moved past the state the local commits are based on) or a lost lease stops writing for good.
/// </summary>
internal sealed class VfsWriter : IDisposable
{
    // How long a write transaction waits for an upload in progress before answering SQLITE_BUSY.
    private static readonly TimeSpan s_gateWait = TimeSpan.FromSeconds(5);
    private readonly VfsReplica _replica;
    private readonly IReplicaClient _client;
    private readonly VfsReplicaOptions _options;
    private readonly ReplicaLease _lease;
    private readonly string _bufferPath;
    private readonly string? _tempDir;
    private readonly SemaphoreSlim _gate = new(1, 1); // held by the write transaction, or by an upload
    private readonly CancellationTokenSource _stop = new();
    private readonly object _lock = new();
    private VfsWriteState _state;
    private VfsWriteState? _pending;
    private VfsFile? _owner;
    private long _version;
    private string? _failure;
    private Task? _renewLoop;
    private CancellationTokenSource? _renewStop;
    private Task? _syncLoop;

    public VfsWriter(VfsReplica replica, IReplicaClient client, VfsReplicaOptions options, VfsSnapshot latest)
    {
        _replica = replica;
        _client = client;
        _options = options;
        _lease = new ReplicaLease(client, options.Lease, NullLogger.Instance);
        if (options.BufferPath is { Length: > 0 } path)
        {
            _bufferPath = path;
        }
        else
        {
            _tempDir = Directory.CreateTempSubdirectory("litestream-vfs-").FullName;
            _bufferPath = Path.Combine(_tempDir, "write-buffer");
        }
        _version = (long)latest.Txid.Value;
        _state = new VfsWriteState(latest, [], (uint)latest.Pages.Length, latest.PageSize, VfsWriteBuffer.Create(_bufferPath), _version);
        _syncLoop = Task.Run(() => SyncLoopAsync(_stop.Token));
    }

    /// <summary>Why writes are refused for good (a conflict, a lost lease), or null.</summary>
    public string? Failure => Volatile.Read(ref _failure);

    /// <summary>The newest TXID this writer uploaded, or the one it started from.</summary>
    public Txid Txid => Volatile.Read(ref _state).Base.Txid;

    /// <summary>True when commits wait for upload.</summary>
    public bool Dirty => Volatile.Read(ref _state).Dirty;

    /// <summary>The state a read transaction starting now pins: the published one, moved up to the replica's newer state when nothing is buffered.</summary>
    public VfsWriteState Current
    {
        get
        {
            lock (_lock)
            {
                if (!_state.Dirty && _replica.Latest is { } latest && latest.Txid > _state.Base.Txid && _failure is null)
                {
                    _state = new VfsWriteState(latest, [], (uint)latest.Pages.Length, latest.PageSize, _state.Buffer, ++_version);
                }
                return _state;
            }
        }
    }

    /// <summary>
    /// Starts <paramref name="file"/>'s write transaction on the state it read (<paramref name="pinned"/>): takes the
    /// lease if this process does not hold it, and returns the state the transaction writes to.
    /// </summary>
    /// <exception cref="VfsBusyException">Another writer holds the lease, the replica moved on, another connection is writing, or <paramref name="pinned"/> is not the newest state.</exception>
    public VfsWriteState Begin(VfsFile file, VfsWriteState pinned)
    {
        ThrowIfFailed();
        if (!_gate.Wait(s_gateWait))
        {
            throw new VfsBusyException($"write {_replica.Name}: another connection of this process is writing");
        }
        try
        {
            if (!_lease.IsHeld)
            {
                TakeLease();
            }
            ThrowIfFailed();
            lock (_lock)
            {
                if (pinned.Version != _state.Version)
                {
                    throw new VfsBusyException($"write {_replica.Name}: the database changed since this transaction read it; retry the transaction");
                }
                _owner = file;
                _pending = _state.Fork(++_version);
                return _pending;
            }
        }
        catch
        {
            _gate.Release();
            throw;
        }
    }

    /// <summary>Ends <paramref name="file"/>'s write transaction: what it wrote becomes the published state (its journal is gone by now: committed or rolled back).</summary>
    public VfsWriteState End(VfsFile file)
    {
        lock (_lock)
        {
            if (_owner != file)
            {
                return _state;
            }
            _owner = null;
            if (_pending is { Written: true } pending)
            {
                _state = pending;
            }
            _pending = null;
            _gate.Release();
            return _state;
        }
    }

    /// <summary>True while some connection of this process is in a write transaction.</summary>
    public bool Reserved => Volatile.Read(ref _owner) is not null;

    /// <summary>Writes <paramref name="data"/> at <paramref name="offset"/> into the transaction's state <paramref name="state"/>.</summary>
    public void Write(VfsWriteState state, ReadOnlySpan<byte> data, long offset)
    {
        if (state.PageSize == 0)
        {
            // A new database: SQLite writes whole pages, page 1 first, so the first write's length is the page size.
            if (offset != 0 || data.Length < 512 || data.Length > 65536 || !uint.IsPow2((uint)data.Length))
            {
                throw new IOException($"write {_replica.Name}: a new database's first write is {data.Length} bytes at {offset}, not page 1");
            }
            state.PageSize = (uint)data.Length;
        }
        int pageSize = (int)state.PageSize;
        byte[] page = ArrayPool<byte>.Shared.Rent(pageSize);
        try
        {
            int done = 0;
            while (done < data.Length)
            {
                long position = offset + done;
                uint pgno = (uint)(position / pageSize) + 1;
                int inPage = (int)(position % pageSize);
                int n = Math.Min(pageSize - inPage, data.Length - done);
                Span<byte> buffer = page.AsSpan(0, pageSize);
                if (n != pageSize)
                {
                    ReadPage(state, pgno, buffer); // a partial write changes part of the page as it is now
                }
                data.Slice(done, n).CopyTo(buffer[inPage..]);
                state.Pages[pgno] = state.Buffer.Append(buffer);
                state.Written = true;
                state.Commit = Math.Max(state.Commit, pgno);
                done += n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(page);
        }
    }

    /// <summary>Shrinks the transaction's database to <paramref name="size"/> bytes.</summary>
    public static void Truncate(VfsWriteState state, long size)
    {
        if (state.PageSize == 0)
        {
            return;
        }
        state.Commit = (uint)(size / state.PageSize);
        foreach (uint pgno in state.Pages.Keys.Where(p => p > state.Commit).ToList())
        {
            state.Pages.Remove(pgno);
        }
        state.Written = true;
    }

    /// <summary>Page <paramref name="pgno"/> of <paramref name="state"/>: the local version, else the replica's, else zeros.</summary>
    public void ReadPage(VfsWriteState state, uint pgno, Span<byte> page)
    {
        if (state.Pages.TryGetValue(pgno, out long offset))
        {
            state.Buffer.Read(page, offset);
            return;
        }
        if (pgno > state.Base.Pages.Length || pgno > state.Commit)
        {
            page.Clear();
            return;
        }
        VfsSnapshot snapshot = state.Base;
        _replica.ReadPage(ref snapshot, pgno, page);
    }

    /// <summary>Uploads what is buffered now (the sync loop's step; also at the last close and at dispose).</summary>
    /// <exception cref="LeaseException">The lease is not held (renewals failed).</exception>
    /// <exception cref="VfsBusyException">A conflict: the replica moved past the buffered writes' base.</exception>
    public async Task SyncAsync(CancellationToken cancellationToken)
    {
        if (!Dirty || Failure is not null)
        {
            return;
        }
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            VfsWriteState state = Volatile.Read(ref _state);
            if (!state.Dirty || Failure is not null)
            {
                return;
            }
            _lease.EnsureHeld();
            Txid next = new(state.Base.Txid.Value + 1);
            await CheckConflictAsync(state.Base.Txid, cancellationToken).ConfigureAwait(false);
            LtxFileInfo info;
            using (MemoryStream file = Encode(state, next))
            {
                file.Position = 0;
                info = await _client.WriteLtxFileAsync(0, next, next, file, cancellationToken).ConfigureAwait(false);
            }
            VfsSnapshot uploaded = await _replica.AppendUploadedAsync(state.Base, info, cancellationToken).ConfigureAwait(false);
            lock (_lock)
            {
                // The same database in other places: the version stays, so a transaction that read before the upload may still write.
                _state = new VfsWriteState(uploaded, [], (uint)uploaded.Pages.Length, uploaded.PageSize, VfsWriteBuffer.Create(_bufferPath), state.Version);
            }
            VfsLog.Write(VfsLog.Level.Debug, $"write {_replica.Name}: uploaded txid {next} ({info.Size} bytes)");
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The next L0 file: the buffered pages (every page for the first file of a new database, a snapshot), as <c>replicate</c> encodes them.</summary>
    private MemoryStream Encode(VfsWriteState state, Txid txid)
    {
        var output = new MemoryStream();
        using var encoder = new LtxEncoder(output, leaveOpen: true);
        encoder.EncodeHeader(new LtxHeader
        {
            Flags = LtxConstants.HeaderFlagNoChecksum,
            PageSize = state.PageSize,
            Commit = state.Commit,
            MinTxid = txid,
            MaxTxid = txid,
            Timestamp = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
            NodeId = LtxNodeId.FromLeaseGeneration(_lease.Generation),
        });
        uint lockPgno = LtxConstants.LockPgno(state.PageSize);
        byte[] page = new byte[state.PageSize];
        IEnumerable<uint> pgnos = state.Base.Txid == Txid.Zero
            ? Enumerable.Range(1, (int)state.Commit).Select(p => (uint)p)
            : state.Pages.Keys.Where(p => p <= state.Commit).Order();
        foreach (uint pgno in pgnos)
        {
            if (pgno == lockPgno)
            {
                continue;
            }
            ReadPage(state, pgno, page);
            encoder.EncodePage(pgno, page);
        }
        encoder.Close(0);
        return output;
    }

    /// <summary>Fails for good when the replica holds a TXID after <paramref name="basedOn"/> (upstream <c>ErrConflict</c>).</summary>
    private async Task CheckConflictAsync(Txid basedOn, CancellationToken cancellationToken)
    {
        Txid next = new(basedOn.Value + 1);
        await foreach (LtxFileInfo info in _client.ListLtxFilesAsync(0, next, false, cancellationToken).ConfigureAwait(false))
        {
            if (info.MaxTxid >= next)
            {
                Fail($"conflict: the replica has txid {info.MaxTxid} but this writer's buffered commits are based on txid {basedOn}; they are not uploaded and writes stop");
            }
        }
    }

    /// <summary>Takes the lease (waiting up to its configured wait), then checks the replica's head against the state this writer is at.</summary>
    private void TakeLease()
    {
        try
        {
            Sync(_lease.AcquireAsync(_stop.Token).AsTask());
        }
        catch (LeaseException e)
        {
            throw new VfsBusyException($"write {_replica.Name}: {e.Message} ({e.Hint})", e);
        }
        _renewStop = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        CancellationToken renew = _renewStop.Token;
        _renewLoop = Task.Run(() => RenewLoopAsync(renew));
        Txid head;
        try
        {
            head = Sync(RestorePlanner.PlanAsync(_client, Txid.Zero, null, _stop.Token).AsTask())[^1].MaxTxid;
        }
        catch (NoBackupException)
        {
            head = Txid.Zero;
        }
        VfsWriteState state = Volatile.Read(ref _state);
        if (head == state.Base.Txid)
        {
            return;
        }
        if (state.Dirty || head < state.Base.Txid)
        {
            Fail($"conflict: the replica is at txid {head} but this writer's state is based on txid {state.Base.Txid}");
        }
        // Another writer committed before this one took the lease: read its state, and have SQLite retry on it.
        Sync(_replica.PollAsync(_stop.Token));
        _ = Current;
        throw new VfsBusyException($"write {_replica.Name}: the replica moved to txid {head} since this transaction read it; retry the transaction");
    }

    private async Task RenewLoopAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _lease.RenewLoopAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (LeaseException e)
        {
            Fail(e.Message);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task SyncLoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_options.SyncInterval);
        string? lastError = null;
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                try
                {
                    await SyncAsync(cancellationToken).ConfigureAwait(false);
                    lastError = null;
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    if (lastError != e.Message)
                    {
                        VfsLog.Write(VfsLog.Level.Error, $"sync {_replica.Name}: {e.Message}");
                    }
                    lastError = e.Message;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void ThrowIfFailed()
    {
        if (Failure is { } failure)
        {
            throw new VfsBusyException($"write {_replica.Name}: {failure}");
        }
    }

    private void Fail(string message)
    {
        if (Interlocked.CompareExchange(ref _failure, message, null) is null)
        {
            VfsLog.Write(VfsLog.Level.Error, $"write {_replica.Name}: {message}", Native.SqliteCodes.Busy);
        }
        throw new VfsBusyException($"write {_replica.Name}: {message}");
    }

    /// <summary>
    /// The last connection closed: uploads what is buffered and releases the lease, so a host that exits without
    /// disposing the VFS (a loaded extension) leaves neither commits behind nor a lease to wait out. The next write
    /// transaction takes the lease again.
    /// </summary>
    public void Idle()
    {
        try
        {
            Sync(SyncAsync(CancellationToken.None));
        }
        catch (IOException e)
        {
            VfsLog.Write(VfsLog.Level.Error, $"sync {_replica.Name} at close: {e.Message}");
        }
        _gate.Wait();
        try
        {
            StopRenewing();
            Sync(_lease.ReleaseAsync(CancellationToken.None).AsTask());
        }
        finally
        {
            _gate.Release();
        }
    }

    private void StopRenewing()
    {
        _renewStop?.Cancel();
        try
        {
            _renewLoop?.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }
        _renewStop?.Dispose();
        _renewStop = null;
        _renewLoop = null;
    }

    private static T Sync<T>(Task<T> task) => task.GetAwaiter().GetResult();

    private static void Sync(Task task) => task.GetAwaiter().GetResult();

    /// <summary>Uploads what is buffered (a conflict or a lost lease is logged), stops the loops and releases the lease.</summary>
    public void Dispose()
    {
        _stop.Cancel();
        try
        {
            _syncLoop?.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }
        Idle();
        if (_tempDir is not null)
        {
            try
            {
                Directory.Delete(_tempDir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
        _stop.Dispose();
    }
}
