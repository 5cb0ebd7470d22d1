using Litestream.Ltx.Compression;
using Litestream.Storage;
using Microsoft.Data.Sqlite;

namespace Litestream.Restore;

/// <summary>
/// Restores a Litestream v0.3 replica (V03-FORMAT.md §3, upstream <c>Replica.RestoreV3</c>): the newest
/// snapshot (or the newest at or before a time), then for each shadow-WAL index in order the
/// concatenation of its segments written as <c>&lt;out&gt;.tmp-wal</c> and checkpointed by SQLite, which
/// validates salts and frame checksums itself. Same temp → verify → fsync → rename discipline as
/// <see cref="Restorer"/>.
/// </summary>
internal static class LegacyRestorer
{
    /// <summary>Newest time of any v0.3 object, or null when the replica holds no v0.3 data.</summary>
    public static async ValueTask<DateTimeOffset?> NewestAsync(ILegacyReplicaClient client, CancellationToken cancellationToken)
    {
        DateTimeOffset? newest = null;
        await foreach (string generation in client.ListGenerationsAsync(cancellationToken).ConfigureAwait(false))
        {
            await foreach (LegacySnapshotInfo s in client.ListSnapshotsAsync(generation, cancellationToken).ConfigureAwait(false))
            {
                newest = newest is null || s.CreatedAt > newest ? s.CreatedAt : newest;
            }
            await foreach (LegacyWalSegmentInfo w in client.ListWalSegmentsAsync(generation, cancellationToken).ConfigureAwait(false))
            {
                newest = newest is null || w.CreatedAt > newest ? w.CreatedAt : newest;
            }
        }
        return newest;
    }

    /// <summary>Restores the latest state, or the state at <see cref="RestoreOptions.Timestamp"/>, to <see cref="RestoreOptions.OutputPath"/>.</summary>
    public static async ValueTask<(LegacySnapshotInfo Snapshot, int Segments)> RestoreAsync(
        ILegacyReplicaClient client, RestoreOptions options, CancellationToken cancellationToken)
    {
        var snapshots = new List<LegacySnapshotInfo>();
        await foreach (string generation in client.ListGenerationsAsync(cancellationToken).ConfigureAwait(false))
        {
            await foreach (LegacySnapshotInfo s in client.ListSnapshotsAsync(generation, cancellationToken).ConfigureAwait(false))
            {
                if (options.Timestamp is null || s.CreatedAt <= options.Timestamp)
                {
                    snapshots.Add(s);
                }
            }
        }
        LegacySnapshotInfo snapshot = snapshots.OrderBy(s => s.CreatedAt).ThenBy(s => s.Index).LastOrDefault()
            ?? throw new NoBackupException("no snapshots available in the v0.3 replica");
        var segments = new List<LegacyWalSegmentInfo>();
        await foreach (LegacyWalSegmentInfo w in client.ListWalSegmentsAsync(snapshot.Generation, cancellationToken).ConfigureAwait(false))
        {
            if (w.Index >= snapshot.Index && (options.Timestamp is null || w.CreatedAt <= options.Timestamp))
            {
                segments.Add(w);
            }
        }
        segments.Sort((a, b) => a.Index != b.Index ? a.Index.CompareTo(b.Index) : a.Offset.CompareTo(b.Offset));

        string output = options.FullOutputPath;
        RestoreOutput.Check(output, options.Force);
        string temp = output + ".tmp";
        RestoreOutput.DeleteTemp(temp);
        try
        {
            await using (Stream source = await client.OpenSnapshotAsync(snapshot, cancellationToken).ConfigureAwait(false))
            await using (var frame = new Lz4FrameReadStream(source))
            await using (var db = new FileStream(temp, FileMode.Create, FileAccess.Write))
            {
                await frame.CopyToAsync(db, cancellationToken).ConfigureAwait(false);
                db.Flush(flushToDisk: true);
            }
            uint expectedIndex = snapshot.Index;
            int i = 0;
            while (i < segments.Count)
            {
                uint index = segments[i].Index;
                if (index != expectedIndex || segments[i].Offset != 0)
                {
                    throw new InvalidDataException($"missing WAL index {expectedIndex:x8} in generation {snapshot.Generation}");
                }
                long length = 0;
                await using (var wal = new FileStream(temp + "-wal", FileMode.Create, FileAccess.Write))
                {
                    for (; i < segments.Count && segments[i].Index == index; i++)
                    {
                        if (segments[i].Offset != length)
                        {
                            throw new InvalidDataException($"missing WAL segment in generation {snapshot.Generation}: index {index:x8} jumps from offset {length} to {segments[i].Offset}");
                        }
                        await using Stream source = await client.OpenWalSegmentAsync(segments[i], cancellationToken).ConfigureAwait(false);
                        await using var frame = new Lz4FrameReadStream(source);
                        await frame.CopyToAsync(wal, cancellationToken).ConfigureAwait(false);
                        length = wal.Length;
                    }
                    wal.Flush(flushToDisk: true);
                }
                Checkpoint(temp);
                expectedIndex = index + 1;
            }
            if (options.IntegrityCheck != IntegrityCheck.None)
            {
                Restorer.CheckIntegrity(temp, options.IntegrityCheck, cancellationToken);
            }
            using (var db = new FileStream(temp, FileMode.Open, FileAccess.ReadWrite))
            {
                db.Flush(flushToDisk: true);
            }
            cancellationToken.ThrowIfCancellationRequested();
            RestoreOutput.Commit(temp, output, options.Force);
            return (snapshot, segments.Count);
        }
        catch
        {
            RestoreOutput.DeleteTemp(temp);
            throw;
        }
    }

    private static void Checkpoint(string path)
    {
        var builder = new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWrite, Pooling = false };
        using var connection = new SqliteConnection(builder.ToString());
        connection.Open();
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "PRAGMA wal_checkpoint(TRUNCATE)";
        using SqliteDataReader reader = command.ExecuteReader();
        if (reader.Read() && reader.GetInt64(0) != 0)
        {
            throw new InvalidDataException($"could not checkpoint the restored WAL into {path}");
        }
    }
}
