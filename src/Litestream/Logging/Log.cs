using Microsoft.Extensions.Logging;

namespace Litestream.Logging;

/// <summary>Every log line the engine writes, source-generated (no reflection, no boxing at disabled levels).</summary>
internal static partial class Log
{
    [LoggerMessage(Level = LogLevel.Information, Message = "initialized db {Path}")]
    public static partial void DbInitialized(ILogger logger, string path);

    [LoggerMessage(Level = LogLevel.Information, Message = "snapshot {Path}: txid {Txid}, {Pages} pages, reason: {Reason}")]
    public static partial void Snapshot(ILogger logger, string path, string txid, uint pages, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "continued {Path} across a wal restart: txid {Txid}, {Pages} pages committed before the restart read from the previous wal generation, no snapshot")]
    public static partial void ContinuedAcrossWalRestart(ILogger logger, string path, string txid, int pages);

    [LoggerMessage(Level = LogLevel.Debug, Message = "sync {Path}: txid {Txid}, {Pages} pages, wal {Offset}+{Size}")]
    public static partial void Synced(ILogger logger, string path, string txid, int pages, long offset, long size);

    [LoggerMessage(Level = LogLevel.Debug, Message = "checkpoint {Path}: mode {Mode}, result ({Busy},{Log},{Checkpointed})")]
    public static partial void Checkpointed(ILogger logger, string path, string mode, long busy, long log, long checkpointed);

    [LoggerMessage(Level = LogLevel.Debug, Message = "checkpoint {Path}: starting {Mode}")]
    public static partial void CheckpointStarting(ILogger logger, string path, string mode);

    [LoggerMessage(Level = LogLevel.Debug, Message = "checkpoint {Path}: finished (write barrier held {BarrierMs:0.0} ms)")]
    public static partial void CheckpointFinished(ILogger logger, string path, double barrierMs);

    [LoggerMessage(Level = LogLevel.Debug, Message = "compacting {Path} L{Level}: {Min}-{Max} from {Files} files")]
    public static partial void Compacting(ILogger logger, string path, int level, string min, string max, int files);

    [LoggerMessage(Level = LogLevel.Debug, Message = "snapshot upload {Path}: txid {Txid}")]
    public static partial void SnapshotUploading(ILogger logger, string path, string txid);

    [LoggerMessage(Level = LogLevel.Debug, Message = "idle {Path}: connections closed until the WAL changes")]
    public static partial void ConnectionsReleased(ILogger logger, string path);

    [LoggerMessage(Level = LogLevel.Debug, Message = "checkpoint {Path} deferred: the database is busy")]
    public static partial void CheckpointDeferred(ILogger logger, string path);

    [LoggerMessage(Level = LogLevel.Debug, Message = "checkpoint {Path}: the database is busy after it; the application's next write restarts the WAL")]
    public static partial void CheckpointRestartDeferred(ILogger logger, string path);

    [LoggerMessage(Level = LogLevel.Error, Message = "sync {Path} failed (retrying in {Delay}): {Error}")]
    public static partial void SyncFailed(ILogger logger, string path, string delay, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "sync {Path} waited out the busy timeout: the application holds the database (retrying in {Delay}): {Error}")]
    public static partial void SyncBusy(ILogger logger, string path, string delay, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "sync {Path} recovered after {Failures} failures")]
    public static partial void SyncRecovered(ILogger logger, string path, int failures);

    [LoggerMessage(Level = LogLevel.Error, Message = "replica {Replica} for {Path} failed (retrying in {Delay}): {Error}")]
    public static partial void ReplicaFailed(ILogger logger, string replica, string path, string delay, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "final sync failed: {Failure}")]
    public static partial void FinalSyncFailed(ILogger logger, string failure);

    [LoggerMessage(Level = LogLevel.Error, Message = "not replicating: {Failure}")]
    public static partial void NotReplicating(ILogger logger, string failure);

    [LoggerMessage(Level = LogLevel.Information, Message = "replica {Replica} for {Path} recovered after {Failures} failures")]
    public static partial void ReplicaRecovered(ILogger logger, string replica, string path, int failures);

    [LoggerMessage(Level = LogLevel.Debug, Message = "uploaded {Path} txid {Txid} to {Replica}")]
    public static partial void Uploaded(ILogger logger, string path, string txid, string replica);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Path}: {Message}")]
    public static partial void Warning(ILogger logger, string path, string message);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Path}: {Message}")]
    public static partial void Info(ILogger logger, string path, string message);

    [LoggerMessage(Level = LogLevel.Error, Message = "validation of {Path} against replica {Replica} failed: {Error}")]
    public static partial void ValidationFailed(ILogger logger, string path, string replica, string error);
    [LoggerMessage(Level = LogLevel.Information, Message = "retention {Path}: deleted {Files} replica files (snapshots older than {Retention} and the files they replace)")]
    public static partial void RetentionEnforced(ILogger logger, string path, int files, string retention);

    [LoggerMessage(Level = LogLevel.Information, Message = "compacted {Path} L{Level}: {Min}-{Max}")]
    public static partial void Compacted(ILogger logger, string path, int level, string min, string max);

    [LoggerMessage(Level = LogLevel.Error, Message = "replica {Replica} for {Path} is behind by {Bytes} bytes of local L0 files (bound {Limit}): released them; it is resynced with a snapshot when it recovers")]
    public static partial void ReplicaBacklogExceeded(ILogger logger, string replica, string path, long bytes, long limit);

    [LoggerMessage(Level = LogLevel.Information, Message = "replica {Replica} for {Path} resynced with a snapshot at txid {Txid}")]
    public static partial void ReplicaResynced(ILogger logger, string replica, string path, string txid);

    [LoggerMessage(Level = LogLevel.Error, Message = "scheduled work {Work} failed: {Error}")]
    public static partial void ScheduledWorkFailed(ILogger logger, string work, string error);
}
