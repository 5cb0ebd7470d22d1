using System.Buffers.Binary;
using Litestream.Internal;
using Litestream.Ltx;
using Litestream.Storage;
using Microsoft.Win32.SafeHandles;

namespace Litestream.Restore;

/// <summary>
/// Rebuilds a database from a replica (upstream <c>Replica.Restore</c>), the one way into restore: a
/// <see cref="RestorePlan"/> → an <see cref="IFileApplier"/> per file → a <see cref="RestoreTarget"/>. Files are
/// applied in TXID order into <c>&lt;output&gt;.tmp</c> beside the target — each page written at its offset, the
/// newest copy winning, the file cut to the final commit size — while up to <see cref="RestoreOptions.Parallelism"/>
/// later ones are fetched ahead. Every file's checksum and the TXID chain (<see cref="LtxTxidChain"/>) are verified,
/// then SQLite's own check runs; only then is the file fsynced and renamed into place. Memory stays bounded: files
/// stream through, a large remote file as parallel ranged GETs that decode as they stream.
/// </summary>
public static class Restorer
{
    /// <summary>Plans (<see cref="RestorePlan.CreateAsync"/>) and restores.</summary>
    /// <exception cref="NoBackupException">The replica holds no backup.</exception>
    /// <exception cref="TxNotAvailableException">The TXID or time is not covered by the replica.</exception>
    public static async ValueTask<RestoreResult> RestoreAsync(IReplicaClient client, RestoreOptions options, CancellationToken cancellationToken)
    {
        RestorePlan plan = await RestorePlan.CreateAsync(client, options.Txid, options.Timestamp, cancellationToken).ConfigureAwait(false);
        return await RestoreAsync(client, plan, options, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Restores a chosen plan (every restore comes here) into <see cref="RestoreOptions.OutputPath"/>: the plan of a
    /// <see cref="ReplicaChoice"/>, or one made with <see cref="RestorePlan.CreateAsync"/> to look at before restoring.
    /// </summary>
    /// <exception cref="IOException">The output exists and <see cref="RestoreOptions.Force"/> is not set.</exception>
    public static async ValueTask<RestoreResult> RestoreAsync(IReplicaClient client, RestorePlan plan, RestoreOptions options, CancellationToken cancellationToken)
    {
        if (plan.Legacy)
        {
            (LegacySnapshotInfo snapshot, _) = await LegacyRestorer.RestoreAsync(LegacyReplicaReader.For(client)!, options, cancellationToken).ConfigureAwait(false);
            (uint legacyPageSize, uint legacyCommit) = ReadHeader(options.FullOutputPath);
            return new RestoreResult([], Txid.Zero, legacyPageSize, legacyCommit) { LegacyGeneration = snapshot.Generation };
        }
        using var target = RestoreTarget.Create(options.FullOutputPath, options.Force);
        (uint pageSize, uint commit, Txid txid, int unencrypted) = await ApplyAsync(client, plan.Files, target, options, cancellationToken).ConfigureAwait(false);
        target.Commit(options.IntegrityCheck, cancellationToken);
        return new RestoreResult(plan.Files, txid, pageSize, commit) { UnencryptedFiles = unencrypted };
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

    private static async ValueTask<(uint PageSize, uint Commit, Txid Txid, int Unencrypted)> ApplyAsync(
        IReplicaClient client, IReadOnlyList<LtxFileInfo> plan, RestoreTarget target, RestoreOptions options, CancellationToken cancellationToken)
    {
        int parallelism = Math.Max(1, options.Parallelism);
        // Fetch ahead: up to `parallelism` small files (PrefetchBudget bytes in all) are being downloaded while
        // earlier ones are applied. A larger remote file is not fetched ahead: when its turn comes its segments
        // are fetched with parallel ranged GETs that decode and write as they stream (SegmentedFileApplier).
        var ahead = new Queue<(IFileApplier Applier, long Bytes)>();
        long prefetched = 0;
        int next = 0;
        void Refill()
        {
            while (next < plan.Count && ahead.Count < parallelism)
            {
                LtxFileInfo info = plan[next];
                bool segmented = info.Size > StreamedFileApplier.InMemoryFetchLimit;
                long bytes = segmented || client.TryGetLocalPath(info.Level, info.MinTxid, info.MaxTxid, out _) ? 0 : info.Size;
                if (ahead.Count > 0 && prefetched + bytes > PrefetchBudget)
                {
                    return;
                }
                next++;
                prefetched += bytes;
                ahead.Enqueue((segmented
                    ? new SegmentedFileApplier(client, info, parallelism, options.StallTimeout, options.Encryption)
                    : StreamedFileApplier.Start(client, info, options.Encryption, cancellationToken), bytes));
            }
        }

        uint pageSize = 0, commit = 0;
        int unencrypted = 0;
        var chain = new LtxTxidChain(allowOverlap: true);
        LtxHeader? applying = null;
        try
        {
            Refill();
            for (int i = 0; i < plan.Count; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                LtxFileInfo info = plan[i];
                (IFileApplier applier, long bytes) = ahead.Dequeue();
                prefetched -= bytes;
                await using (applier.ConfigureAwait(false))
                {
                    try
                    {
                        await applier.Fetched.ConfigureAwait(false);
                        Refill();
                        LtxHeader header = await applier.OpenAsync(cancellationToken).ConfigureAwait(false);
                        applying = header;
                        RestorePlan.CheckFile(info, header, first: i == 0);
                        if (options.Encryption is not null && !header.IsEncrypted)
                        {
                            unencrypted++;
                        }
                        if (i == 0)
                        {
                            pageSize = header.PageSize;
                        }
                        chain.Append(header);
                        await applier.ApplyAsync(target, commit, cancellationToken).ConfigureAwait(false);
                        commit = header.Commit;
                        target.Resize((long)commit * pageSize);
                    }
                    catch (LtxFormatException e) when (e is not LtxKeyMissingException) // a missing key is the replica's, not this file's
                    {
                        LtxThrow.InFile(RestorePlan.FileName(info), e);
                    }
                    catch (Exception e) when (FileUtil.IsFileTooLarge(e) && applying is { } header)
                    {
                        throw new IOException($"{RestorePlan.FileName(info)}: a database of {header.Commit} pages of {header.PageSize} bytes is larger than {target.TempPath} may grow (the file system's or the process's file size limit)", e);
                    }
                }
            }
        }
        finally
        {
            while (ahead.Count > 0)
            {
                await ahead.Dequeue().Applier.DisposeAsync().ConfigureAwait(false);
            }
        }
        return (pageSize, commit, chain.Position, unencrypted);
    }

    /// <summary>Bytes of small files buffered ahead at most (beyond the one being applied).</summary>
    private const long PrefetchBudget = 16L * 1024 * 1024;
}
