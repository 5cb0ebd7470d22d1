using System.Diagnostics;
using Litestream.Metrics;

namespace Litestream.Replication;

/// <summary>
/// One database's series of upstream's database metrics (<see cref="LitestreamMetrics"/>, tag db = its path),
/// recorded where upstream records them: every sync (count, errors, seconds, disk full, then TXID and sizes),
/// every checkpoint (by mode), the WAL bytes each L0 file captured.
/// </summary>
internal sealed class DbMetrics
{
    private const int Enospc = 28;

    private readonly string _path;
    private readonly KeyValuePair<string, object?> _db;

    public DbMetrics(string path)
    {
        _path = path;
        _db = LitestreamMetrics.DbTag(path);
        // Upstream creates these series with the database (WithLabelValues), so an error rate reads 0, not "no data".
        LitestreamMetrics.SyncErrorCount.Add(0, _db);
        LitestreamMetrics.CompactionVerifyErrorCount.Add(0, _db);
    }

    /// <summary>A sync that started at <paramref name="started"/> (a <see cref="Stopwatch"/> timestamp) ended with <paramref name="error"/> (null: success).</summary>
    public void Synced(long started, Exception? error)
    {
        LitestreamMetrics.SyncCount.Add(1, _db);
        if (error is not null)
        {
            LitestreamMetrics.SyncErrorCount.Add(1, _db);
        }
        LitestreamMetrics.DiskFull.Record(error is IOException { HResult: Enospc } ? 1 : 0, _db);
        LitestreamMetrics.SyncSeconds.Add(Stopwatch.GetElapsedTime(started).TotalSeconds, _db);
    }

    /// <summary>After a successful sync: the position's TXID, the database file's size and the WAL captured so far.</summary>
    public void Position(Ltx.Txid txid, long walSize)
    {
        LitestreamMetrics.Txid.Record(checked((long)txid.Value), _db);
        try
        {
            LitestreamMetrics.DbSize.Record(new FileInfo(_path).Length, _db);
        }
        catch (IOException)
        {
            // Gone between the sync and the stat: the next sync reports it.
        }
        LitestreamMetrics.WalSize.Record(walSize, _db);
    }

    /// <summary>An L0 file captured <paramref name="bytes"/> of WAL.</summary>
    public void WalCaptured(long bytes)
    {
        if (bytes > 0)
        {
            LitestreamMetrics.TotalWalBytes.Add(bytes, _db);
        }
    }

    /// <summary>A checkpoint in <paramref name="mode"/> (PASSIVE, TRUNCATE) that started at <paramref name="started"/> ended with <paramref name="error"/>.</summary>
    public void Checkpointed(string mode, long started, Exception? error)
    {
        var tags = new TagList { _db, { "mode", mode } };
        LitestreamMetrics.CheckpointCount.Add(1, tags);
        if (error is not null)
        {
            LitestreamMetrics.CheckpointErrorCount.Add(1, tags);
        }
        LitestreamMetrics.CheckpointSeconds.Add(Stopwatch.GetElapsedTime(started).TotalSeconds, tags);
    }
}
