using Litestream.Internal;
using Litestream.Ltx.Compression;
using Litestream.Restore.Age;
using Litestream.Storage;
using Microsoft.Data.Sqlite;

namespace Litestream.Restore;

/// <summary>
/// Restores a Litestream v0.3 replica (V03-FORMAT.md §3, upstream <c>Replica.RestoreV3</c>): the newest
/// snapshot (or the newest at or before a time), then for each shadow-WAL index in order the
/// concatenation of its segments written as <c>&lt;out&gt;.tmp-wal</c> and checkpointed by SQLite, which
/// validates salts and frame checksums itself. Objects v0.3 encrypted with age (its <c>age: recipients</c>) are
/// decrypted with <see cref="RestoreOptions.AgeIdentities"/> as they stream (<see cref="AgeDecryptStream"/>). The
/// result is built and committed by a <see cref="RestoreTarget"/>, as an LTX restore's (temp → check → fsync → rename).
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
        List<AgeIdentity> identities = ParseIdentities(options.AgeIdentities);
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

        using var target = RestoreTarget.Create(options.FullOutputPath, options.Force);
        string temp = target.TempPath;
        await using (Stream source = await client.OpenSnapshotAsync(snapshot, cancellationToken).ConfigureAwait(false))
        await using (Stream plain = await OpenPlainAsync(source, snapshot.Path, identities, cancellationToken).ConfigureAwait(false))
        await using (var frame = new Lz4FrameReadStream(plain))
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
                    await using Stream plain = await OpenPlainAsync(source, segments[i].Path, identities, cancellationToken).ConfigureAwait(false);
                    await using var frame = new Lz4FrameReadStream(plain);
                    await frame.CopyToAsync(wal, cancellationToken).ConfigureAwait(false);
                    length = wal.Length;
                }
                wal.Flush(flushToDisk: true);
            }
            Checkpoint(temp);
            expectedIndex = index + 1;
        }
        target.Commit(options.IntegrityCheck, cancellationToken);
        return (snapshot, segments.Count);
    }

    /// <summary>The identities of <see cref="RestoreOptions.AgeIdentities"/>, each string read as an age identity file.</summary>
    internal static List<AgeIdentity> ParseIdentities(IReadOnlyList<string> texts)
    {
        var identities = new List<AgeIdentity>();
        foreach (string text in texts)
        {
            try
            {
                identities.AddRange(AgeIdentity.ParseAll(text));
            }
            catch (FormatException e)
            {
                throw new ArgumentException(e.Message, nameof(texts), e);
            }
        }
        return identities;
    }

    /// <summary>
    /// The LZ4 frame of a v0.3 object: the object itself, or its decryption when it is an age file (as v0.3 wrote
    /// every object of a replica with <c>age: recipients</c>). An age file without identities fails here, naming it.
    /// </summary>
    private static async ValueTask<Stream> OpenPlainAsync(Stream source, string name, List<AgeIdentity> identities, CancellationToken cancellationToken)
    {
        byte[] prefix = new byte[AgeDecryptStream.MagicLength];
        int n = await source.ReadAtLeastAsync(prefix, prefix.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        var whole = new HeaderedStream(prefix.AsMemory(0, n), source);
        if (!AgeDecryptStream.IsEncrypted(prefix.AsSpan(0, n)))
        {
            return whole;
        }
        if (identities.Count == 0)
        {
            throw new AgeDecryptionException($"v0.3 replica file {name} is encrypted with age, and no age identity is configured",
                "add the replica's age identities to its config, as for litestream v0.3: age: {identities: [AGE-SECRET-KEY-1…]}");
        }
        return await AgeDecryptStream.OpenAsync(whole, identities, name, cancellationToken).ConfigureAwait(false);
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
