using Litestream.Internal;
using Litestream.Ltx;
using Litestream.Storage;

namespace Litestream.Restore;

/// <summary>
/// What a restore will read: the LTX files of <see cref="Files"/> in TXID order (<see cref="RestorePlanner"/>), or —
/// when <see cref="Legacy"/> — the v0.3 generations, which hold a newer backup than any LTX file (upstream's
/// <c>shouldUseV3Restore</c>). The first step of every restore (<see cref="Restorer"/>); the VFS and follow mode plan
/// their files by the same rules.
/// </summary>
public sealed class RestorePlan
{
    private RestorePlan(IReadOnlyList<LtxFileInfo> files, bool legacy)
    {
        Files = files;
        Legacy = legacy;
    }

    /// <summary>LTX files to apply, in order; empty for a legacy restore.</summary>
    public IReadOnlyList<LtxFileInfo> Files { get; }

    /// <summary>Restore from the v0.3 generations instead of LTX files.</summary>
    public bool Legacy { get; }

    /// <summary>The TXID the restore reaches: the last file's; zero for a legacy restore, whose generations have none.</summary>
    public Txid Txid => Files.Count > 0 ? Files[^1].MaxTxid : Txid.Zero;

    /// <summary>A plan of LTX files (<see cref="RestorePlanner.PlanAsync"/> made it).</summary>
    internal static RestorePlan Of(IReadOnlyList<LtxFileInfo> files) => new(files, legacy: false);

    /// <summary>
    /// Chooses what to restore from: LTX files, or v0.3 generations when the replica has them and they are
    /// newer than every LTX file (never for a TXID target, which only LTX files have).
    /// </summary>
    /// <exception cref="NoBackupException">The replica holds neither.</exception>
    /// <exception cref="TxNotAvailableException">The TXID or time is not covered by the replica.</exception>
    public static async ValueTask<RestorePlan> CreateAsync(IReplicaClient client, Txid txid, DateTimeOffset? timestamp, CancellationToken cancellationToken)
    {
        // LTX first: its listing is the one whose errors (a missing bucket, a refused key) name the replica's layout.
        IReadOnlyList<LtxFileInfo>? files = null;
        NoBackupException? noLtx = null;
        try
        {
            files = await RestorePlanner.PlanAsync(client, txid, timestamp, cancellationToken).ConfigureAwait(false);
        }
        catch (NoBackupException e) when (txid.IsZero)
        {
            noLtx = e;
        }
        DateTimeOffset? legacyNewest = txid.IsZero && LegacyReplicaReader.For(client) is { } legacy
            ? await LegacyRestorer.NewestAsync(legacy, cancellationToken).ConfigureAwait(false)
            : null;
        if (files is null)
        {
            if (legacyNewest is null)
            {
                throw noLtx!;
            }
            files = [];
        }
        bool useLegacy = legacyNewest is not null && (files.Count == 0 || legacyNewest > files.Max(f => f.CreatedAt));
        return new RestorePlan(useLegacy ? [] : files, useLegacy);
    }

    /// <summary>
    /// <see cref="CreateAsync"/>, or null when the replica holds no backup: <c>-if-replica-exists</c>,
    /// <c>restore-if-db-not-exists</c> and restore-on-start, where an empty replica means a new database.
    /// </summary>
    public static async ValueTask<RestorePlan?> TryCreateAsync(IReplicaClient client, Txid txid, DateTimeOffset? timestamp, CancellationToken cancellationToken)
    {
        try
        {
            return await CreateAsync(client, txid, timestamp, cancellationToken).ConfigureAwait(false);
        }
        catch (NoBackupException)
        {
            return null;
        }
    }

    /// <summary>
    /// What a file of a plan must be before it is applied (restore, follow mode and the VFS check the same): its
    /// header names the file it is in, level 9 holds only snapshots, and the plan starts with a snapshot.
    /// </summary>
    /// <exception cref="LtxFormatException">It is not.</exception>
    internal static void CheckFile(LtxFileInfo info, LtxHeader header, bool first)
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
}
