using System.Buffers.Binary;
using Litestream.Internal;
using Litestream.Ltx;
using Litestream.Storage;
using Microsoft.Data.Sqlite;
using Microsoft.Win32.SafeHandles;

namespace Litestream.Restore;

/// <summary>
/// What a restore will read: the LTX files of <see cref="Plan"/>, or — when <see cref="Legacy"/> — the v0.3
/// generations, which hold a newer backup than any LTX file (upstream's <c>shouldUseV3Restore</c>).
/// </summary>
internal sealed record RestoreSource(IReadOnlyList<LtxFileInfo> Plan, bool Legacy);

/// <summary>
/// Rebuilds a database from a replica (upstream <c>Replica.Restore</c>): plans the files, fetches up to
/// <see cref="RestoreOptions.Parallelism"/> of them ahead, and applies them in TXID order into
/// <c>&lt;output&gt;.tmp</c> beside the target — each page written at its offset, the newest copy winning,
/// the file cut to the final commit size. Every file's checksum and the TXID chain are verified, then
/// SQLite's own check runs; only then is the file fsynced and renamed into place. Any failure deletes
/// the temp file: a failed restore leaves nothing behind. Memory stays bounded: files stream through, a
/// large remote file as parallel ranged GETs that decode as they stream.
/// </summary>
internal static class Restorer
{
    /// <summary>Plans and applies a restore (every caller restores through here or <see cref="TryRestoreAsync"/>).</summary>
    /// <exception cref="NoBackupException">The replica holds no backup.</exception>
    public static async ValueTask<RestoreResult> RestoreAsync(IReplicaClient client, RestoreOptions options, CancellationToken cancellationToken)
    {
        RestoreSource source = await PlanAsync(client, options.Txid, options.Timestamp, cancellationToken).ConfigureAwait(false);
        return await ApplyAsync(client, source, options, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// <see cref="RestoreAsync"/>, or null when the replica holds no backup: <c>-if-replica-exists</c>,
    /// <c>restore-if-db-not-exists</c> and the hosted service's restore-on-start, where an empty replica
    /// means a new database.
    /// </summary>
    public static async ValueTask<RestoreResult?> TryRestoreAsync(IReplicaClient client, RestoreOptions options, CancellationToken cancellationToken)
    {
        RestoreSource source;
        try
        {
            source = await PlanAsync(client, options.Txid, options.Timestamp, cancellationToken).ConfigureAwait(false);
        }
        catch (NoBackupException)
        {
            return null;
        }
        return await ApplyAsync(client, source, options, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Chooses what to restore from: LTX files, or v0.3 generations when the replica has them and they are
    /// newer than every LTX file (never for a TXID target, which only LTX files have).
    /// </summary>
    /// <exception cref="NoBackupException">The replica holds neither.</exception>
    public static async ValueTask<RestoreSource> PlanAsync(IReplicaClient client, Txid txid, DateTimeOffset? timestamp, CancellationToken cancellationToken)
    {
        // LTX first: its listing is the one whose errors (a missing bucket, a refused key) name the replica's layout.
        IReadOnlyList<LtxFileInfo>? plan = null;
        NoBackupException? noLtx = null;
        try
        {
            plan = await RestorePlanner.PlanAsync(client, txid, timestamp, cancellationToken).ConfigureAwait(false);
        }
        catch (NoBackupException e) when (txid.IsZero)
        {
            noLtx = e;
        }
        DateTimeOffset? legacyNewest = txid.IsZero && LegacyReplicaReader.For(client) is { } legacy
            ? await LegacyRestorer.NewestAsync(legacy, cancellationToken).ConfigureAwait(false)
            : null;
        if (plan is null)
        {
            if (legacyNewest is null)
            {
                throw noLtx!;
            }
            plan = [];
        }
        bool useLegacy = legacyNewest is not null && (plan.Count == 0 || legacyNewest > plan.Max(f => f.CreatedAt));
        return new RestoreSource(useLegacy ? [] : plan, useLegacy);
    }

    /// <summary>Restores from a chosen source (see <see cref="PlanAsync"/>).</summary>
    public static async ValueTask<RestoreResult> ApplyAsync(IReplicaClient client, RestoreSource source, RestoreOptions options, CancellationToken cancellationToken)
    {
        if (!source.Legacy)
        {
            return await ApplyAsync(client, source.Plan, options, cancellationToken).ConfigureAwait(false);
        }
        (LegacySnapshotInfo snapshot, _) = await LegacyRestorer.RestoreAsync(LegacyReplicaReader.For(client)!, options, cancellationToken).ConfigureAwait(false);
        (uint pageSize, uint commit) = ReadHeader(options.FullOutputPath);
        return new RestoreResult([], Txid.Zero, pageSize, commit) { LegacyGeneration = snapshot.Generation };
    }

    /// <summary>Page size and size in pages from a database file's header (big-endian at offsets 16 and 28).</summary>
    private static (uint PageSize, uint Commit) ReadHeader(string path)
    {
        Span<byte> header = stackalloc byte[32];
        using (SafeFileHandle handle = File.OpenHandle(path))
        {
            RandomAccess.Read(handle, header, 0);
        }
        uint pageSize = BinaryPrimitives.ReadUInt16BigEndian(header[16..]);
        return (pageSize == 1 ? 65536 : pageSize, BinaryPrimitives.ReadUInt32BigEndian(header[28..]));
    }

    /// <summary>Applies a computed plan (see the class summary).</summary>
    public static async ValueTask<RestoreResult> ApplyAsync(IReplicaClient client, IReadOnlyList<LtxFileInfo> plan, RestoreOptions options, CancellationToken cancellationToken)
    {
        string output = options.FullOutputPath;
        RestoreOutput.Check(output, options.Force);
        string? dir = Path.GetDirectoryName(output);
        if (!string.IsNullOrEmpty(dir))
        {
            Directory.CreateDirectory(dir);
        }
        string temp = output + ".tmp";
        RestoreOutput.DeleteTemp(temp);
        try
        {
            (uint pageSize, uint commit, Txid txid, int unencrypted) = await WriteDatabaseAsync(client, plan, temp, options, cancellationToken).ConfigureAwait(false);
            if (options.IntegrityCheck != IntegrityCheck.None)
            {
                CheckIntegrity(temp, options.IntegrityCheck, cancellationToken);
            }
            // A signal that arrived during the last step still means "not restored".
            cancellationToken.ThrowIfCancellationRequested();
            RestoreOutput.Commit(temp, output, options.Force);
            return new RestoreResult(plan, txid, pageSize, commit) { UnencryptedFiles = unencrypted };
        }
        catch
        {
            RestoreOutput.DeleteTemp(temp);
            throw;
        }
    }

    private static async ValueTask<(uint PageSize, uint Commit, Txid Txid, int Unencrypted)> WriteDatabaseAsync(
        IReplicaClient client, IReadOnlyList<LtxFileInfo> plan, string temp, RestoreOptions options, CancellationToken cancellationToken)
    {
        int parallelism = Math.Max(1, options.Parallelism);
        // Fetch ahead: up to `parallelism` small files (PrefetchBudget bytes in all) are being downloaded while
        // earlier ones are applied. A larger remote file is not fetched ahead: when its turn comes its segments
        // are fetched with parallel ranged GETs that decode and write as they stream (SegmentedFileApply).
        var fetches = new Queue<(Task<Stream>? Fetch, long Bytes)>();
        long prefetched = 0;
        int next = 0;
        void Refill()
        {
            while (next < plan.Count && fetches.Count < parallelism)
            {
                LtxFileInfo info = plan[next];
                bool segmented = info.Size > InMemoryFetchLimit;
                long bytes = segmented || client.TryGetLocalPath(info.Level, info.MinTxid, info.MaxTxid, out _) ? 0 : info.Size;
                if (fetches.Count > 0 && prefetched + bytes > PrefetchBudget)
                {
                    return;
                }
                next++;
                prefetched += bytes;
                fetches.Enqueue((segmented ? null : FetchAsync(client, info, cancellationToken), bytes));
            }
        }

        uint pageSize = 0, commit = 0;
        int unencrypted = 0;
        Txid txid = Txid.Zero;
        LtxHeader? previous = null, applying = null;
        PageRunWriter? run = null;
        try
        {
            await using var db = new FileStream(temp, FileMode.Create, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.None);
            Refill();
            for (int i = 0; i < plan.Count; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                LtxFileInfo info = plan[i];
                (Task<Stream>? fetch, long bytes) = fetches.Dequeue();
                prefetched -= bytes;
                string name = FileName(info);
                try
                {
                    if (fetch is null)
                    {
                        Refill();
                        LtxFrameSegments segments = await SegmentedFileApply.PlanAsync(client, info, cancellationToken).ConfigureAwait(false);
                        CheckHeader(segments.Header);
                        DatabaseGrowth.Check(segments.Header, commit, segments.LastPgno);
                        await SegmentedFileApply.ApplyAsync(client, info, segments, db.SafeFileHandle, parallelism, options.StallTimeout, options.Encryption, cancellationToken).ConfigureAwait(false);
                        previous = segments.Header;
                    }
                    else
                    {
                        await using Stream stream = await fetch.ConfigureAwait(false);
                        Refill();
                        using var decoder = new LtxDecoder(stream, leaveOpen: true) { KeepPageIndex = false, Keys = options.Encryption };
                        CheckHeader(decoder.DecodeHeader());
                        run ??= new PageRunWriter(db.SafeFileHandle, pageSize);
                        uint lastPgno = 0;
                        while (decoder.TryDecodePage(run.NextSlot, out LtxPageHeader ph))
                        {
                            run.Commit(ph.Pgno);
                            lastPgno = ph.Pgno;
                        }
                        run.Flush();
                        decoder.Close();
                        DatabaseGrowth.Check(decoder.Header, commit, lastPgno);
                        previous = decoder.Header;
                    }
                    LtxHeader header = previous.Value;
                    commit = header.Commit;
                    db.SetLength((long)commit * pageSize);
                    txid = header.MaxTxid;
                }
                catch (LtxFormatException e) when (e is not LtxKeyMissingException) // a missing key is the replica's, not this file's
                {
                    LtxThrow.InFile(name, e);
                }
                catch (Exception e) when (FileUtil.IsFileTooLarge(e) && applying is { } header)
                {
                    throw new IOException($"{name}: a database of {header.Commit} pages of {header.PageSize} bytes is larger than {temp} may grow (the file system's or the process's file size limit)", e);
                }

                void CheckHeader(LtxHeader header)
                {
                    applying = header;
                    CheckPlanFile(info, header, first: previous is null);
                    if (options.Encryption is not null && !header.IsEncrypted)
                    {
                        unencrypted++;
                    }
                    if (previous is null)
                    {
                        pageSize = header.PageSize;
                    }
                    else
                    {
                        LtxCompactor.CheckSequence(previous.Value, header, allowOverlap: true);
                    }
                }
            }
            db.Flush(flushToDisk: true);
        }
        finally
        {
            run?.Dispose();
            while (fetches.Count > 0)
            {
                try
                {
                    if (fetches.Dequeue().Fetch is { } pending)
                    {
                        (await pending.ConfigureAwait(false)).Dispose();
                    }
                }
                catch (Exception)
                {
                    // The restore already failed; a prefetch that failed too adds nothing.
                }
            }
        }
        return (pageSize, commit, txid, unencrypted);
    }

    private static async Task<Stream> FetchAsync(IReplicaClient client, LtxFileInfo info, CancellationToken cancellationToken)
    {
        Stream stream = await client.OpenLtxFileAsync(info.Level, info.MinTxid, info.MaxTxid, 0, 0, cancellationToken).ConfigureAwait(false);
        if (stream is FileStream)
        {
            return stream; // local files stream straight from disk
        }
        // Remote bodies are buffered while earlier files apply, so downloads overlap; only files of at most
        // InMemoryFetchLimit come here (larger ones go through SegmentedFileApply).
        var buffer = new MemoryStream((int)Math.Max(info.Size, 0));
        await using (stream.ConfigureAwait(false))
        {
            await stream.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        buffer.Position = 0;
        return buffer;
    }

    /// <summary>Remote files up to this size are fetched whole, ahead of their turn; larger ones by segments.</summary>
    internal const long InMemoryFetchLimit = 2L * 1024 * 1024;

    /// <summary>Bytes of small files buffered ahead at most (beyond the one being applied).</summary>
    private const long PrefetchBudget = 16L * 1024 * 1024;

    /// <summary>
    /// What a file of a restore plan must be before it is applied (the VFS checks the same): its header names
    /// the file it is in, level 9 holds only snapshots, and the plan starts with a snapshot.
    /// </summary>
    /// <exception cref="LtxFormatException">It is not.</exception>
    internal static void CheckPlanFile(LtxFileInfo info, LtxHeader header, bool first)
    {
        if (header.MinTxid != info.MinTxid || header.MaxTxid != info.MaxTxid)
        {
            LtxThrow.Format($"header says {header.MinTxid}-{header.MaxTxid}");
        }
        if (info.Level == LtxConstants.SnapshotLevel && !header.IsSnapshot)
        {
            LtxThrow.Format($"level {LtxConstants.SnapshotLevel} holds snapshots only, this file starts at txid {header.MinTxid}");
        }
        if (first && !header.IsSnapshot)
        {
            LtxThrow.Format("the first file of a restore must be a snapshot (min txid 1)");
        }
    }

    /// <summary>How restore errors name a file: its path in the replica layout, e.g. <c>ltx/0/…-….ltx</c>.</summary>
    internal static string FileName(LtxFileInfo info) => $"ltx/{info.Level}/{LtxFileName.Format(info.MinTxid, info.MaxTxid)}";

    /// <summary>
    /// Runs SQLite's check on the restored temp file. Cancellation interrupts it (<c>sqlite3_interrupt</c>):
    /// a check of a large database takes seconds, and a signal must not wait for it.
    /// </summary>
    internal static void CheckIntegrity(string path, IntegrityCheck check, CancellationToken cancellationToken)
    {
        var builder = new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWrite, Pooling = false };
        using var connection = new SqliteConnection(builder.ToString());
        connection.Open();
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = check == IntegrityCheck.Full ? "PRAGMA integrity_check" : "PRAGMA quick_check";
        string result;
        using (cancellationToken.Register(() => SQLitePCL.raw.sqlite3_interrupt(connection.Handle)))
        {
            try
            {
                result = Convert.ToString(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) ?? "";
            }
            catch (SqliteException e) when (cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException("integrity check interrupted", e, cancellationToken);
            }
        }
        cancellationToken.ThrowIfCancellationRequested();
        if (result != "ok")
        {
            throw new InvalidDataException($"restored database fails {(check == IntegrityCheck.Full ? "integrity_check" : "quick_check")}: {result}");
        }
        // Leave no -wal/-shm beside the result: the check only read.
        using SqliteCommand checkpoint = connection.CreateCommand();
        checkpoint.CommandText = "PRAGMA wal_checkpoint(TRUNCATE)";
        checkpoint.ExecuteNonQuery();
    }
}
