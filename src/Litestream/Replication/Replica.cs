using System.Diagnostics;
using Litestream.Events;
using Litestream.Internal;
using Litestream.Lease;
using Litestream.Logging;
using Litestream.Restore;
using Litestream.Ltx;
using Litestream.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Litestream.Replication;

/// <summary>Per-replica settings (upstream <c>Replica</c> fields).</summary>
public sealed record ReplicaOptions
{
    /// <summary>
    /// First pause before retrying a failed upload (1 s; it doubles with each failure). Uploads start right after
    /// each sync; a file written outside the monitor loop (a checkpoint, a snapshot) waits at most one monitor pass.
    /// </summary>
    public TimeSpan SyncInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Most L0 files uploaded in one batch (256; zero or less: no limit). A sync uploads batch after batch until the
    /// replica is caught up; between batches snapshots and compaction get the replica.
    /// </summary>
    public int MaxSyncLtxFiles { get; init; } = 256;

    /// <summary>
    /// When the newest local L0 file is damaged, reset the local state and continue with a snapshot instead
    /// of reporting the error until someone resets it (upstream <c>auto-recover</c>, off by default). A local
    /// file the replica still needs but that is gone (meta directory lost, replica emptied or replaced) is
    /// always bridged with a snapshot: that loses nothing.
    /// </summary>
    public bool AutoRecover { get; init; }

    /// <summary>
    /// How often a running <see cref="Store"/> validates the replica (<see cref="Replica.ValidateAsync"/>; upstream
    /// <c>validation-interval</c>); zero (the default) never.
    /// </summary>
    public TimeSpan ValidationInterval { get; init; }

    /// <summary>
    /// The single-writer lease on the replica (<c>lease.json</c> in its path), taken before anything is uploaded and
    /// renewed while replicating; null (the default, as upstream) replicates without one.
    /// </summary>
    public LeaseOptions? Lease { get; init; }

    /// <summary>
    /// Client-side encryption (docs/ENCRYPTION.md): every file uploaded is encrypted under the ring's current key,
    /// compaction and restore read files of any of its keys. Null (the default) uploads plain files.
    /// </summary>
    public LtxKeyRing? Encryption { get; init; }

    /// <summary>
    /// The replica's name among its database's replicas (the <c>replicas:</c> list's <c>name:</c>); null names it by
    /// its client's type, as v0.3 did.
    /// </summary>
    public string? Name { get; init; }

    /// <summary>
    /// This replica's own compaction, snapshot and retention settings (v0.3 had them per replica); null uses the
    /// <see cref="Store"/>'s.
    /// </summary>
    public CompactionOptions? Compaction { get; init; }
}

/// <summary>
/// Ships a database's local L0 files to one replica client (upstream <c>Replica</c>) and restores from it.
/// The remote position (newest remote L0 TXID) is listed once, then tracked: no listing per sync. A
/// <see cref="Store"/> drives replication; <see cref="SyncAsync"/> and <see cref="RestoreAsync"/> may also be
/// called directly. The replica does not own its <see cref="Client"/> or its <see cref="Db"/>. The replica's file
/// listing is cached (<see cref="Listing"/>) for the compactor: an idle database sends no request.
/// </summary>
public sealed class Replica
{
    private readonly ILogger _logger;
    /// <summary>
    /// How often, while uploading, the replica itself (not the cached listing) is asked whether it still holds
    /// a TXID this process put there (one listing request). A replica wiped or pruned behind our back would
    /// otherwise receive L0 files continuing a chain it no longer has: unrestorable until the next snapshot, a
    /// day later by default. Upstream does not look.
    /// </summary>
    internal static readonly TimeSpan RemoteCheckInterval = TimeSpan.FromSeconds(10);

    private readonly SemaphoreSlim _syncLock = new(1, 1);
    private Txid? _remoteTxid;
    private long _remoteCheckedAt = Stopwatch.GetTimestamp();
    // On the replica at the last check (or first put there): the next check looks for it. Any deletion since
    // then that was not retention (which only moves TXIDs to higher levels) takes it away.
    private Txid _remoteChecked;
    private bool _remoteLost; // files vanished from the replica: a level-9 snapshot must restart the chain
    private bool _relist; // after a storage error: list the replica again before the next upload
    private int _chainRestarts; // local position reset to continue the replica's chain (each needs a snapshot)

    /// <summary>Creates a replica of <paramref name="db"/> on <paramref name="client"/>.</summary>
    public Replica(Db db, IReplicaClient client, ReplicaOptions? options = null, ILogger? logger = null)
    {
        Db = db;
        Client = client;
        Options = options ?? new ReplicaOptions();
        _logger = logger ?? NullLogger.Instance;
        Listing = new ReplicaListing(client);
        Lease = Options.Lease is { } lease ? new ReplicaLease(client, lease, _logger) : null;
    }

    /// <summary>The single-writer lease on the replica when <see cref="ReplicaOptions.Lease"/> asks for one.</summary>
    public ReplicaLease? Lease { get; }

    /// <summary>The database replicated.</summary>
    public Db Db { get; }

    /// <summary>The storage client.</summary>
    public IReplicaClient Client { get; }

    /// <summary>The settings.</summary>
    public ReplicaOptions Options { get; }

    /// <summary>The name among its database's replicas: <see cref="ReplicaOptions.Name"/>, else the client's type.</summary>
    public string Name => Options.Name ?? Client.Type;

    /// <summary>
    /// True while the replica lags past <see cref="DbOptions.ReplicaBacklogLimit"/>: the local files it needed were
    /// released for the other replicas, and its next upload resyncs it with a snapshot (<see cref="LocalBacklog"/>).
    /// </summary>
    public bool IsBehind
    {
        get => Volatile.Read(ref _isBehind);
        internal set => Volatile.Write(ref _isBehind, value);
    }

    private bool _isBehind;

    /// <summary>
    /// True while a compactor merges this replica's L0 files into level 1 from the local copies (no lease, no encryption:
    /// then the uploaded file is the local one): the <see cref="LocalBacklog"/> keeps them until it has, so the merge
    /// downloads nothing.
    /// </summary>
    internal bool MergesLocalL0
    {
        get => Volatile.Read(ref _mergesLocalL0);
        set => Volatile.Write(ref _mergesLocalL0, value);
    }

    private bool _mergesLocalL0;

    /// <summary>
    /// The TXID through which this replica's level 1 holds the L0 files, as its compactor's level-1 pass last saw it
    /// (zero until then). Set by that pass only, so it follows the replica down too (a wiped replica).
    /// </summary>
    internal Txid MergedL0Through
    {
        get => new(Volatile.Read(ref _mergedL0Through));
        set => Volatile.Write(ref _mergedL0Through, value.Value);
    }

    private ulong _mergedL0Through;

    /// <summary>The replica's files per level as this process knows them (listed once, then kept by its own writes and deletes).</summary>
    internal ReplicaListing Listing { get; }

    /// <summary>Where this replica's confirmed uploads are announced (set by the <see cref="Store"/> that runs it).</summary>
    internal ReplicationEvents? Events { get; set; }

    /// <summary>Newest TXID known to be on the replica (null until first contact).</summary>
    public Txid? RemoteTxid => _remoteTxid;

    /// <summary>Time of the last successful pass.</summary>
    public DateTimeOffset? LastSyncAt { get; private set; }

    /// <summary>The last upload error (redacted) while uploads to this replica fail in a running <see cref="Store"/>; null once one succeeds.</summary>
    public string? LastError
    {
        get => Volatile.Read(ref _lastError);
        internal set => Volatile.Write(ref _lastError, value);
    }

    private string? _lastError;

    /// <summary>When a <see cref="Store"/> started replicating this replica (what its age counts from before first contact).</summary>
    internal DateTimeOffset StartedAt { get; set; } = DateTimeOffset.UtcNow;

    /// <summary>
    /// The replica's state now (<see cref="ReplicaStatus"/>): the TXID it holds against the local one, since when it
    /// lacks TXIDs (the capture time of the oldest it lacks: an idle, caught-up replica is in sync however long ago
    /// it last uploaded), and whether its uploads fail.
    /// </summary>
    public ReplicaStatus GetStatus()
    {
        Txid? held = RemoteTxid;
        return ReplicaStatus.Create(Name, Client.Type, Db.Txid, held, held is { } h ? Db.Captures.After(h) ?? LastSyncAt : null, StartedAt,
            LastError, IsBehind, Options.SyncInterval + ReplicationHealth.LagGrace, DateTimeOffset.UtcNow);
    }

    /// <summary>The last validation's outcome; null before the first.</summary>
    public ValidationResult? LastValidation { get; private set; }

    /// <summary>
    /// Restores the replica at the database's current TXID into a temp file beside the meta directory and compares
    /// it page by page with the database (after <c>integrity_check</c>); never throws for a failed validation, it
    /// returns it (also kept in <see cref="LastValidation"/>, logged and counted). The database must be open.
    /// </summary>
    public async ValueTask<ValidationResult> ValidateAsync(CancellationToken cancellationToken = default)
        => LastValidation = await ReplicaValidator.ValidateAsync(this, _logger, cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Compares local and remote positions before the first sync (upstream <c>checkDatabaseBehindReplica</c>):
    /// when the replica is ahead of the local state (database restored from an old backup, meta dir lost)
    /// the local position adopts the replica's newest L0 so TXIDs keep increasing.
    /// </summary>
    internal async ValueTask ReconcileAsync(CancellationToken cancellationToken)
    {
        await _syncLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await ReconcileLockedAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _syncLock.Release();
        }
    }

    private async ValueTask ReconcileLockedAsync(CancellationToken cancellationToken)
    {
        await Client.InitAsync(cancellationToken).ConfigureAwait(false);
        Listing.Invalidate(); // (re)start: the replica may have changed while we were away
        LtxFileInfo? newest = await NewestL0Async(cancellationToken).ConfigureAwait(false);
        _remoteTxid = _remoteChecked = newest?.MaxTxid ?? Txid.Zero;
        _relist = false;
        // The first reconcile of an opening compares with the position it inherited: what Db.SyncIfContinuing captured
        // before the listing cannot be on the replica yet, so a replica file past the inherited TXID is another
        // writer's, even at a TXID we captured too (same number, other content: never "repaired" with ours).
        int opening = Db.Openings;
        Txid local = _reconciledOpening == opening ? Db.Txid : Db.InheritedTxid;
        if (newest is not null && newest.MaxTxid <= local)
        {
            await RepairTornNewestAsync(newest, cancellationToken).ConfigureAwait(false);
        }
        if (newest is not null && newest.MaxTxid > local)
        {
            // No local position at all is how every start after a restore looks (the restored file comes without a
            // meta directory), so it is news, not a warning; a local position behind the replica is a warning.
            string? expected = local.IsZero
                ? "expected for a database restored from this replica (it has no local state yet); continuing the replica's TXIDs with a snapshot"
                : null;
            await AdoptRemoteAsync(newest, $"replica is ahead of local state ({newest.MaxTxid} > {local})", cancellationToken, expected).ConfigureAwait(false);
        }
        _reconciledOpening = opening; // only once it all went through: a retry compares with the inherited TXID again
    }

    /// <summary>The <see cref="Db.Openings"/> this replica last reconciled in (-1: none yet).</summary>
    private int _reconciledOpening = -1;

    /// <summary>
    /// Uploads local L0 files newer than the remote position, in TXID order, until the replica holds the TXID the
    /// database had captured when this was called (upstream <c>Replica.Sync</c>). Uploads go in batches of
    /// <see cref="ReplicaOptions.MaxSyncLtxFiles"/> so snapshots and compaction get their turn in between; the call
    /// returns only when every batch is up. When a needed local file is gone (replica wiped or replaced, local
    /// retention) the chain restarts: the database's current state is captured as a snapshot (the database must be
    /// open for that) and uploaded in the same call.
    /// </summary>
    /// <exception cref="ReplicaBehindException">The replica stopped advancing, or its chain keeps restarting.</exception>
    public async ValueTask SyncAsync(CancellationToken cancellationToken = default)
        => _ = await SyncToAsync(cancellationToken).ConfigureAwait(false);

    /// <summary><see cref="SyncAsync"/>, returning the TXID the replica now holds at least (the target, moved by a chain restart).</summary>
    public async ValueTask<Txid> SyncToAsync(CancellationToken cancellationToken = default)
    {
        Txid target = Db.Txid;
        int restarts = 0;
        int stalled = 0;
        while (true)
        {
            Txid? before = _remoteTxid;
            bool continued;
            // The upload loop, snapshots, shutdown and `sync -wait` may all ask at once; one batch at a time keeps
            // the remote position exact.
            await _syncLock.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                continued = await SyncLockedAsync(cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                _syncLock.Release();
            }
            if (!continued)
            {
                if (++restarts > MaxChainRestarts)
                {
                    throw Behind(target, $"its chain restarted {restarts} times in one sync: files keep disappearing from the replica or the meta directory");
                }
                if (!Db.IsOpen)
                {
                    throw Behind(target, "the chain restarts with a snapshot and the database is not open");
                }
                Db.Sync(); // the snapshot that restarts the chain; it holds everything committed so far
                target = Db.Txid;
                continue;
            }
            if (_remoteTxid >= target)
            {
                return target;
            }
            if (!(_remoteTxid > before) && ++stalled >= 3)
            {
                throw Behind(target, "the replica stopped advancing");
            }
        }
    }

    /// <summary>Restarts of the chain one sync call accepts before it reports the replica behind.</summary>
    private const int MaxChainRestarts = 3;

    /// <summary>The replica lacks transactions up to <paramref name="target"/>, for <paramref name="reason"/>.</summary>
    public ReplicaBehindException Behind(Txid target, string reason, Exception? innerException = null)
        => new(Db.Path, Label, target, _remoteTxid, reason, innerException);

    /// <summary>How messages name the replica: its client, and its name when its database has several replicas.</summary>
    internal string Label => Db.Replicas.Count > 1 ? $"{Name} ({Client.ToString() ?? Client.Type})" : Client.ToString() ?? Client.Type;

    /// <summary>
    /// One batch: at most <see cref="ReplicaOptions.MaxSyncLtxFiles"/> uploads, then the snapshot a replica that lost
    /// files needs. False when the chain restarted (the local position now continues the replica's, and the next
    /// local sync writes a snapshot).
    /// </summary>
    private async ValueTask<bool> SyncLockedAsync(CancellationToken cancellationToken)
    {
        int restartsBefore = _chainRestarts;
        if (_remoteTxid is null || _relist)
        {
            await ReconcileLockedAsync(cancellationToken).ConfigureAwait(false);
        }
        if (_chainRestarts == restartsBefore)
        {
            if (_remoteTxid < Db.Txid && Stopwatch.GetElapsedTime(_remoteCheckedAt) >= RemoteCheckInterval)
            {
                await CheckRemoteLockedAsync(cancellationToken).ConfigureAwait(false);
            }
            int limit = Options.MaxSyncLtxFiles > 0 ? Options.MaxSyncLtxFiles : int.MaxValue;
            if (await UploadPendingLockedAsync(limit, cancellationToken).ConfigureAwait(false)
                && _remoteLost && await UploadSnapshotLockedAsync(cancellationToken).ConfigureAwait(false) is not null)
            {
                _remoteLost = false;
            }
        }
        if (_chainRestarts != restartsBefore)
        {
            return false;
        }
        LastSyncAt = DateTimeOffset.UtcNow;
        return true;
    }

    /// <summary>
    /// A crash on a file system without atomic renames (a network mount) can leave the replica's newest file
    /// cut short; every file after it would continue a chain no restore can read. When the local copy of that
    /// file still exists and its size differs, it is uploaded again.
    /// </summary>
    private async ValueTask RepairTornNewestAsync(LtxFileInfo newest, CancellationToken cancellationToken)
    {
        var local = new FileInfo(Db.L0FilePath(newest.MaxTxid));
        if (newest.MinTxid != newest.MaxTxid || !local.Exists)
        {
            return;
        }
        if (Options.Encryption is null ? local.Length == newest.Size : await UploadLengthAsync(local.FullName, cancellationToken).ConfigureAwait(false) == newest.Size)
        {
            return;
        }
        Log.Warning(_logger, Db.Path, $"replica {Client} holds l0 file {newest.MaxTxid} with {newest.Size} bytes, the local copy has {local.Length}; uploading it again");
        await UploadL0Async(local.FullName, newest.MaxTxid, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Uploads the local L0 file at <paramref name="path"/> (one TXID) and records it in the listing. Under a lease
    /// the uploaded file carries the lease generation in its NodeID; with encryption it is sealed. Either way a
    /// local file not already in that form goes up as a rewritten copy (<see cref="UploadFormAsync"/>).
    /// </summary>
    private async ValueTask<LtxFileInfo> UploadL0Async(string path, Txid txid, CancellationToken cancellationToken)
    {
        Lease?.EnsureHeld();
        await using UploadForm form = await UploadFormAsync(path, cancellationToken).ConfigureAwait(false);
        LtxFileInfo written = await Client.WriteLtxFileAsync(0, txid, txid, form.Stream, cancellationToken).ConfigureAwait(false);
        Listing.Added(written);
        return written;
    }

    /// <summary>
    /// Announces a transaction the replica now holds (its upload was confirmed): its TXID, the time its local L0 file
    /// says it was captured, and the bytes that file holds on the replica. Only read when someone subscribed.
    /// </summary>
    private void PublishUploaded(string path, LtxFileInfo uploaded)
    {
        if (Events is not { HasSubscribers: true } events || !Db.TryAnnounce(uploaded.MaxTxid))
        {
            return;
        }
        DateTimeOffset captured = uploaded.CreatedAt;
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1);
            Span<byte> header = stackalloc byte[LtxConstants.HeaderSize];
            file.ReadExactly(header);
            captured = LtxHeader.Read(header).CreatedAt;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Pruned meanwhile: the replica's time of the file stands in.
        }
        events.Publish(new ReplicationEvent(ReplicationEventKind.Tx, Db.Path) { Txid = uploaded.MaxTxid, Timestamp = captured, Size = uploaded.Size });
    }

    /// <summary>How many bytes the local L0 file at <paramref name="path"/> is uploaded as (an encrypted copy is longer by a tag per page and its index).</summary>
    private async ValueTask<long> UploadLengthAsync(string path, CancellationToken cancellationToken)
    {
        await using UploadForm form = await UploadFormAsync(path, cancellationToken).ConfigureAwait(false);
        return form.Stream.Length;
    }

    /// <summary>
    /// The bytes the local L0 file at <paramref name="path"/> is uploaded as: the file itself when it already carries
    /// the lease's NodeID and no encryption is configured, else a temp copy restamped and encrypted (local L0 files
    /// stay plain: capture and restart read them).
    /// </summary>
    private async ValueTask<UploadForm> UploadFormAsync(string path, CancellationToken cancellationToken)
    {
        ulong stamp = LeaseNodeId();
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 64 * 1024);
        if (Options.Encryption is null && (stamp == 0 || StampOf(stream) == stamp))
        {
            return new UploadForm(stream, null);
        }
        string temp = Path.Combine(Path.GetTempPath(), $"litestream-upload-{Guid.NewGuid():N}.ltx");
        try
        {
            await using (stream.ConfigureAwait(false))
            {
                var rewritten = new FileStream(temp, FileMode.Create, FileAccess.ReadWrite, FileShare.None, 64 * 1024);
                try
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    LtxRewrite.Copy(stream, rewritten, stamp == 0 ? null : stamp, cipher: Options.Encryption?.Current);
                    rewritten.Position = 0;
                    return new UploadForm(rewritten, temp);
                }
                catch
                {
                    await rewritten.DisposeAsync().ConfigureAwait(false);
                    throw;
                }
            }
        }
        catch
        {
            FileUtil.TryDelete(temp);
            throw;
        }
    }

    /// <summary>What an upload reads: the local file, or a rewritten temp copy that goes when this is disposed.</summary>
    private sealed record UploadForm(FileStream Stream, string? Temp) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Stream.DisposeAsync().ConfigureAwait(false);
            if (Temp is not null)
            {
                FileUtil.TryDelete(Temp);
            }
        }
    }

    /// <summary>The NodeID files uploaded now carry: the lease generation while a lease is held, else 0. New captures get it too.</summary>
    private ulong LeaseNodeId()
    {
        ulong stamp = Lease is { Generation: > 0 } lease ? LtxNodeId.FromLeaseGeneration(lease.Generation) : 0;
        Db.NodeId = stamp;
        return stamp;
    }

    /// <summary>The NodeID in the header of the LTX file <paramref name="stream"/> is at the start of; the stream is left there.</summary>
    private static ulong StampOf(FileStream stream)
    {
        Span<byte> header = stackalloc byte[LtxConstants.HeaderSize];
        stream.ReadExactly(header);
        stream.Position = 0;
        return LtxHeader.Read(header).NodeId;
    }

    /// <summary>
    /// Uploads up to <paramref name="limit"/> local L0 files newer than the remote position, in TXID order; false
    /// when a needed local file is gone (replica wiped, local retention) and the chain was restarted.
    /// </summary>
    private async ValueTask<bool> UploadPendingLockedAsync(int limit, CancellationToken cancellationToken)
    {
        Txid remote = _remoteTxid!.Value;
        Txid local = Db.Txid;
        int uploaded = 0;
        while (remote < local && uploaded < limit)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var next = new Txid(remote.Value + 1);
            string path = Db.L0FilePath(next);
            if (!File.Exists(path))
            {
                if (Db.Backlog.Shared || IsBehind)
                {
                    // The other replicas own the database's position: this one catches up with a snapshot.
                    await ResyncLockedAsync(cancellationToken).ConfigureAwait(false);
                    remote = _remoteTxid!.Value;
                    local = Db.Txid;
                    continue;
                }
                await RestartChainAsync(remote, next, cancellationToken).ConfigureAwait(false);
                return false;
            }
            LtxFileInfo written = await UploadL0Async(path, next, cancellationToken).ConfigureAwait(false);
            Log.Uploaded(_logger, Db.Path, next.ToString(), Client.ToString() ?? Client.Type);
            _remoteTxid = remote = next;
            PublishUploaded(path, written);
            if (_remoteChecked.IsZero)
            {
                _remoteChecked = next; // the first TXID this process put on an empty replica
            }
            uploaded++;
        }
        if (uploaded > 0)
        {
            Db.Backlog.Prune(this, remote, _logger);
        }
        return true;
    }

    /// <summary>
    /// Asks the replica whether it still holds the TXID found there at the last check (in any level: retention
    /// may have moved it up); when not, the replica lost files behind this process and gets a snapshot.
    /// </summary>
    private async ValueTask CheckRemoteLockedAsync(CancellationToken cancellationToken)
    {
        _remoteCheckedAt = Stopwatch.GetTimestamp();
        if (!_remoteChecked.IsZero && !await RemoteHoldsAsync(_remoteChecked, cancellationToken).ConfigureAwait(false))
        {
            Log.Warning(_logger, Db.Path, $"replica {Client} no longer has txid {_remoteChecked} (files deleted by someone else); uploading a snapshot");
            Listing.Invalidate();
            _remoteLost = true;
        }
        _remoteChecked = _remoteTxid!.Value;
    }

    private async ValueTask<bool> RemoteHoldsAsync(Txid txid, CancellationToken cancellationToken)
    {
        for (int level = 0; level <= LtxConstants.SnapshotLevel; level++)
        {
            // L0 files are one TXID each and the newest is never pruned: the first answer usually settles it.
            await foreach (LtxFileInfo file in Client.ListLtxFilesAsync(level, level == 0 ? txid : Txid.Zero, useMetadata: false, cancellationToken).ConfigureAwait(false))
            {
                if (file.MinTxid > txid)
                {
                    break;
                }
                if (file.MaxTxid >= txid)
                {
                    return true;
                }
            }
        }
        return false;
    }

    /// <summary>Uploads a level-9 snapshot of the database (a chain start for restores) once its TXID is on the replica.</summary>
    private async ValueTask<LtxFileInfo?> UploadSnapshotLockedAsync(CancellationToken cancellationToken)
    {
        if (!Db.IsOpen)
        {
            return null;
        }
        string temp = Path.Combine(Path.GetTempPath(), $"litestream-snapshot-{Guid.NewGuid():N}.ltx");
        try
        {
            await using var output = new FileStream(temp, FileMode.Create, FileAccess.ReadWrite);
            LeaseNodeId(); // the snapshot carries the generation of the lease it is uploaded under
            if (Db.WriteSnapshot(output, Options.Encryption?.Current) is not { } header)
            {
                return null;
            }
            // The snapshot's TXID must be on the replica before the snapshot claims it.
            if (!await UploadPendingLockedAsync(int.MaxValue, cancellationToken).ConfigureAwait(false) || _remoteTxid < header.MaxTxid)
            {
                return null;
            }
            output.Position = 0;
            Lease?.EnsureHeld();
            Log.SnapshotUploading(_logger, Db.Path, header.MaxTxid.ToString());
            LtxFileInfo written = await Client.WriteLtxFileAsync(LtxConstants.SnapshotLevel, header.MinTxid, header.MaxTxid, output, cancellationToken).ConfigureAwait(false);
            Listing.Added(written);
            Log.Compacted(_logger, Db.Path, LtxConstants.SnapshotLevel, written.MinTxid.ToString(), written.MaxTxid.ToString());
            return written;
        }
        finally
        {
            FileUtil.TryDelete(temp);
        }
    }

    /// <summary>
    /// Catches a replica up whose next local L0 file is gone while other replicas share the database (it was
    /// released past the backlog bound, or the meta directory lost files): a level-9 snapshot of the database now,
    /// then the local L0 file at its TXID when still there, so the replica's newest L0 file marks its position again.
    /// The TXIDs between stay missing on this replica (point-in-time restores into them are refused, never wrong).
    /// </summary>
    private async ValueTask ResyncLockedAsync(CancellationToken cancellationToken)
    {
        if (!Db.IsOpen)
        {
            throw Behind(Db.Txid, "its next local L0 file is gone and the database is not open for the snapshot that resyncs it");
        }
        string temp = Path.Combine(Path.GetTempPath(), $"litestream-resync-{Guid.NewGuid():N}.ltx");
        try
        {
            await using var output = new FileStream(temp, FileMode.Create, FileAccess.ReadWrite);
            LeaseNodeId();
            if (Db.WriteSnapshot(output, Options.Encryption?.Current) is not { } header)
            {
                throw Behind(Db.Txid, "its next local L0 file is gone and the database has nothing to snapshot");
            }
            output.Position = 0;
            Lease?.EnsureHeld();
            Log.SnapshotUploading(_logger, Db.Path, header.MaxTxid.ToString());
            Listing.Added(await Client.WriteLtxFileAsync(LtxConstants.SnapshotLevel, header.MinTxid, header.MaxTxid, output, cancellationToken).ConfigureAwait(false));
            string local = Db.L0FilePath(header.MaxTxid);
            if (File.Exists(local))
            {
                try
                {
                    await UploadL0Async(local, header.MaxTxid, cancellationToken).ConfigureAwait(false);
                }
                catch (FileNotFoundException)
                {
                    // pruned meanwhile: the snapshot holds it
                }
            }
            _remoteTxid = _remoteChecked = header.MaxTxid;
            _remoteLost = false;
            IsBehind = false;
            Log.ReplicaResynced(_logger, Label, Db.Path, header.MaxTxid.ToString());
        }
        finally
        {
            FileUtil.TryDelete(temp);
        }
    }

    /// <summary>Uploads a level-9 snapshot of the database's current state (the compactor's snapshot interval).</summary>
    internal async ValueTask<LtxFileInfo?> SnapshotAsync(CancellationToken cancellationToken)
    {
        await _syncLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_remoteTxid is null || _relist)
            {
                await ReconcileLockedAsync(cancellationToken).ConfigureAwait(false);
            }
            return await UploadSnapshotLockedAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _syncLock.Release();
        }
    }

    /// <summary>
    /// Restores the database from this replica's client (upstream <c>Replica.Restore</c>) into
    /// <see cref="RestoreOptions.OutputPath"/>, or into <see cref="Db"/>'s path when that is null: the latest state, or the state at <see cref="RestoreOptions.Txid"/>
    /// or <see cref="RestoreOptions.Timestamp"/>. The output is written beside the target and renamed into place
    /// only after every checksum and the SQLite check passed; a failed restore leaves nothing behind. Works
    /// whether or not <see cref="Db"/> is open, but never restore over the path of an open database.
    /// </summary>
    /// <exception cref="NoBackupException">The replica holds no backup.</exception>
    /// <exception cref="TxNotAvailableException">The requested TXID or time is not covered by the replica.</exception>
    /// <exception cref="InvalidOperationException">The output is the path of <see cref="Db"/> and it is open.</exception>
    /// <exception cref="IOException">The output exists and <see cref="RestoreOptions.Force"/> is not set.</exception>
    public ValueTask<RestoreResult> RestoreAsync(RestoreOptions options, CancellationToken cancellationToken = default)
        => Restorer.RestoreAsync(Client, ToOutput(options), cancellationToken);

    /// <summary>
    /// <see cref="RestoreAsync"/>, but returns null instead of throwing <see cref="NoBackupException"/> when the
    /// replica holds no backup (<c>restore -if-replica-exists</c>): restore-on-start, where an empty replica
    /// means a new database.
    /// </summary>
    /// <exception cref="TxNotAvailableException">The requested TXID or time is not covered by the replica.</exception>
    /// <exception cref="InvalidOperationException">The output is the path of <see cref="Db"/> and it is open.</exception>
    /// <exception cref="IOException">The output exists and <see cref="RestoreOptions.Force"/> is not set.</exception>
    public async ValueTask<RestoreResult?> TryRestoreAsync(RestoreOptions options, CancellationToken cancellationToken = default)
    {
        RestoreOptions output = ToOutput(options);
        return await RestorePlan.TryCreateAsync(Client, output.Txid, output.Timestamp, cancellationToken).ConfigureAwait(false) is { } plan
            ? await Restorer.RestoreAsync(Client, plan, output, cancellationToken).ConfigureAwait(false)
            : null;
    }

    /// <summary>The options with the output defaulted to <see cref="Db"/>'s path, which must not be open.</summary>
    private RestoreOptions ToOutput(RestoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (Db.IsOpen && (options.OutputPath is null || string.Equals(System.IO.Path.GetFullPath(options.OutputPath), Db.Path, StringComparison.Ordinal)))
        {
            throw new InvalidOperationException($"cannot restore over open database {Db.Path}");
        }
        options = options.Encryption is null && Options.Encryption is { } keys ? options with { Encryption = keys } : options;
        return options.OutputPath is null ? options with { OutputPath = Db.Path } : options;
    }

    /// <summary>
    /// Makes the next pass list the replica again instead of trusting the tracked position and the cached listing
    /// (after a storage error). <see cref="RemoteTxid"/> keeps the last position known.
    /// </summary>
    public void InvalidateRemotePosition()
    {
        _relist = true;
        Listing.Invalidate();
    }

    private async ValueTask RestartChainAsync(Txid remote, Txid missing, CancellationToken cancellationToken)
    {
        Listing.Invalidate(); // something changed behind our back: see the replica as it is
        _remoteChecked = Txid.Zero;
        LtxFileInfo? newest = remote.IsZero ? null : await NewestL0Async(cancellationToken).ConfigureAwait(false);
        await AdoptRemoteAsync(newest, $"local l0 file {missing} is missing; restarting the chain with a snapshot", cancellationToken).ConfigureAwait(false);
        _remoteTxid = newest?.MaxTxid ?? Txid.Zero;
    }

    /// <summary>
    /// Continues the replica's chain from <paramref name="newest"/> (null: an empty replica) with a snapshot for
    /// <paramref name="reason"/>: a warning, or news when <paramref name="expected"/> says why it is the normal path.
    /// </summary>
    private async ValueTask AdoptRemoteAsync(LtxFileInfo? newest, string reason, CancellationToken cancellationToken, string? expected = null)
    {
        if (expected is not null)
        {
            Log.Info(_logger, Db.Path, $"{reason}: {expected}");
        }
        else
        {
            Log.Warning(_logger, Db.Path, reason);
        }
        _chainRestarts++;
        if (newest is null)
        {
            Db.ResetPosition(null, null, reason);
            return;
        }
        string local = Db.L0FilePath(newest.MaxTxid);
        string temp = local + ".tmp";
        Directory.CreateDirectory(Db.L0Directory);
        await using (Stream source = await Client.OpenLtxFileAsync(0, newest.MinTxid, newest.MaxTxid, 0, 0, cancellationToken).ConfigureAwait(false))
        await using (var output = new FileStream(temp, FileMode.Create, FileAccess.Write))
        {
            await source.CopyToAsync(output, cancellationToken).ConfigureAwait(false);
            output.Flush(flushToDisk: true);
        }
        if (Options.Encryption is { } keys)
        {
            // Local L0 files are plain: capture and restart read them without a key.
            string plain = temp + ".plain";
            using (FileStream sealedFile = File.OpenRead(temp))
            using (var output = new FileStream(plain, FileMode.Create, FileAccess.Write))
            {
                LtxRewrite.Copy(sealedFile, output, nodeId: null, keys);
                output.Flush(flushToDisk: true);
            }
            FileUtil.CommitRename(plain, temp);
        }
        FileUtil.CommitRename(temp, local);
        LtxHeader header;
        using (var decoder = new LtxDecoder(File.OpenRead(local), leaveOpen: false) { KeepPageIndex = false })
        {
            header = decoder.DecodeHeader();
            decoder.Close();
        }
        Db.ResetPosition(header, local, reason);
    }

    private ValueTask<LtxFileInfo?> NewestL0Async(CancellationToken cancellationToken) => Listing.NewestAsync(0, cancellationToken);
}
