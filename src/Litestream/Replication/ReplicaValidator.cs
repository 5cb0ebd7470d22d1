using Litestream.Internal;
using Litestream.Logging;
using Litestream.Ltx;
using Litestream.Metrics;
using Litestream.Restore;
using Microsoft.Win32.SafeHandles;

namespace Litestream.Replication;

/// <summary>
/// Proves that a replica restores to what the database holds (upstream's <c>validation-interval</c>, made
/// stronger): the database's state at its current position is captured as a snapshot (pages in order), the
/// replica is brought up to that TXID, restored at exactly that TXID into a temp file (segmented restore, every LTX
/// checksum verified, then <c>PRAGMA integrity_check</c>), and the two are compared page by page. Memory is one
/// page and the restorer's bounded buffers; disk is the snapshot and the restored copy, in the meta directory,
/// removed afterwards.
/// </summary>
internal static class ReplicaValidator
{
    /// <summary>Runs one validation; the result is also logged and counted (<c>litestream_validation_total</c>).</summary>
    public static async ValueTask<ValidationResult> ValidateAsync(Replica replica, Microsoft.Extensions.Logging.ILogger logger, CancellationToken cancellationToken)
    {
        Db db = replica.Db;
        string dir = Path.Combine(db.MetaPath, "validation");
        string snapshot = Path.Combine(dir, "local.ltx.tmp"), restored = Path.Combine(dir, "restored.db.tmp");
        Txid txid = Txid.Zero;
        ValidationResult result;
        try
        {
            Directory.CreateDirectory(dir);
            LtxHeader header;
            await using (var output = new FileStream(snapshot, FileMode.Create, FileAccess.ReadWrite, FileShare.None, 64 * 1024))
            {
                header = db.WriteSnapshot(output) ?? throw new InvalidOperationException("nothing to validate yet: the database has no position");
            }
            txid = header.MaxTxid;
            await replica.SyncAsync(cancellationToken).ConfigureAwait(false);
            FileUtil.TryDelete(restored);
            await Restorer.RestoreAsync(replica.Client, new RestoreOptions { OutputPath = restored, Txid = txid, IntegrityCheck = IntegrityCheck.Full, Encryption = replica.Options.Encryption }, cancellationToken).ConfigureAwait(false);
            string? difference = Compare(snapshot, restored);
            result = new ValidationResult(DateTimeOffset.UtcNow, txid, difference is null, difference is null ? null : $"replica restored at txid {txid} differs from the database: {difference}");
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            result = new ValidationResult(DateTimeOffset.UtcNow, txid, false, e.Message);
        }
        finally
        {
            FileUtil.TryDelete(snapshot);
            FileUtil.TryDelete(restored);
            FileUtil.TryDelete(restored + "-wal");
            FileUtil.TryDelete(restored + "-shm");
        }
        LitestreamMetrics.ValidationTotal.Add(1, [.. LitestreamMetrics.ReplicaTags(replica), new("result", result.Ok ? "ok" : "failed")]);
        if (result.Ok)
        {
            Log.Info(logger, db.Path, $"validation: replica {replica.Client} restores to txid {txid} and equals the database");
        }
        else
        {
            Log.ValidationFailed(logger, db.Path, replica.Client.ToString() ?? replica.Client.Type, result.Error!);
        }
        return result;
    }

    /// <summary>Null when every page of the snapshot equals the restored file's and the sizes agree; else the first difference.</summary>
    private static string? Compare(string snapshotPath, string restoredPath)
    {
        using var decoder = new LtxDecoder(File.OpenRead(snapshotPath), leaveOpen: false) { KeepPageIndex = false };
        LtxHeader header = decoder.DecodeHeader();
        using SafeFileHandle restored = File.OpenHandle(restoredPath);
        long expectedLength = (long)header.Commit * header.PageSize;
        long length = RandomAccess.GetLength(restored);
        if (length != expectedLength)
        {
            return $"restored file is {length} bytes, the database {expectedLength} ({header.Commit} pages)";
        }
        byte[] local = new byte[header.PageSize], remote = new byte[header.PageSize];
        while (decoder.TryDecodePage(local, out LtxPageHeader page))
        {
            int read = RandomAccess.Read(restored, remote, (long)(page.Pgno - 1) * header.PageSize);
            if (read != remote.Length || !local.AsSpan().SequenceEqual(remote))
            {
                return $"page {page.Pgno} differs";
            }
        }
        decoder.Close();
        return null;
    }
}
