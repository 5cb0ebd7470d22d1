using System.Buffers.Binary;
using System.Diagnostics;
using System.Security.Cryptography;
using Litestream.Events;
using Litestream.Internal;
using Litestream.Logging;
using Litestream.Ltx;
using Litestream.Storage;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Litestream.Restore;

/// <summary>
/// Follow mode (<c>restore -f</c>, REPLICA-LAYOUT.md §5.3): keeps a restored database current by polling
/// the replica and applying each new LTX file in place under SQLite's exclusive lock, so readers of the
/// file always see a whole transaction. Page 1 is patched (<see cref="Page1Patch"/>) to rollback-journal mode
/// (no WAL for readers to look for) with a fresh change counter so readers drop their caches.
/// The applied TXID is kept in <c>&lt;output&gt;-txid</c> (temp, fsync, rename) for resuming after a restart.
/// </summary>
public sealed class Follower : IAsyncDisposable
{
    private readonly IReplicaClient _client;
    private readonly string _output;
    private readonly ILogger _logger;
    private readonly SqliteConnection _locker;
    private readonly FileStream _file;
    private readonly LtxKeyRing? _keys;
    private readonly LtxTxidChain _chain;
    private long _lastFullListing;
    private int _filesApplied;
    private long _bytesApplied;

    private Follower(IReplicaClient client, string output, Txid txid, LtxKeyRing? keys, ILogger logger)
    {
        _client = client;
        _keys = keys;
        _output = output;
        _logger = logger;
        Txid = txid;
        _chain = new LtxTxidChain(txid, allowOverlap: true);
        PatchHeader(output);
        // Opened once and kept: closing a descriptor of the database would drop the lock connection's locks.
        _file = new FileStream(output, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite, 1);
        _locker = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = output, Mode = SqliteOpenMode.ReadWrite, Pooling = false }.ToString());
        _locker.Open();
    }

    /// <summary>The TXID the output database is at.</summary>
    public Txid Txid { get; private set; }

    /// <summary>LTX files applied since following started (not counting the first restore).</summary>
    public int FilesApplied => Volatile.Read(ref _filesApplied);

    /// <summary>Bytes of the LTX files counted by <see cref="FilesApplied"/>.</summary>
    public long BytesApplied => Interlocked.Read(ref _bytesApplied);

    /// <summary>Whether following <paramref name="output"/> resumes from its TXID file rather than restoring it first.</summary>
    public static bool Resumes(string output) => File.Exists(output) && new FileInfo(output).Length > 0;

    /// <summary>
    /// Told of every file applied, once it is durable in the copy and its <c>-txid</c> file: a
    /// <see cref="ReplicationEventKind.Tx"/> for the copy's path (TXID, the primary's capture time, the bytes downloaded).
    /// </summary>
    public Action<ReplicationEvent>? Applied { get; set; }

    /// <summary>Path of the TXID file beside the output.</summary>
    internal static string TxidPath(string output) => output + "-txid";

    /// <summary>
    /// Starts following: restores first when the output does not exist, otherwise resumes from its TXID
    /// file (a database without one was not made by follow mode and is refused). The first restore's bytes and files
    /// are counted into <paramref name="progress"/> when given.
    /// </summary>
    public static async ValueTask<Follower> StartAsync(IReplicaClient client, RestoreOptions options, ILogger? logger, CancellationToken cancellationToken, ITransferProgress? progress = null)
    {
        string output = options.FullOutputPath;
        Txid txid;
        if (Resumes(output))
        {
            string txidFile = TxidPath(output);
            if (!File.Exists(txidFile) || !Txid.TryParse((await File.ReadAllTextAsync(txidFile, cancellationToken).ConfigureAwait(false)).Trim(), out txid))
            {
                throw new IOException($"output file already exists and has no follow position ({txidFile}): {output}");
            }
            // Readers of a followed database never make a -wal, -shm or -journal (page 1 says rollback mode
            // and they only read): one beside it is another database's, and SQLite would apply it.
            RestoreOutput.RefuseSidecars(output, "the followed database", $"delete it if no process has {output} open (follow mode never makes one)");
        }
        else
        {
            RestorePlan source = await RestorePlan.CreateAsync(client, options.Txid, options.Timestamp, cancellationToken).ConfigureAwait(false);
            IReplicaClient counted = client;
            if (progress is not null && !source.Legacy)
            {
                progress.AddTotal(source.Files.Sum(f => f.Size), source.Files.Count);
                counted = new ProgressReplicaClient(client, progress);
            }
            RestoreResult restored = await Restorer.RestoreAsync(counted, source, options with { OutputPath = output }, cancellationToken).ConfigureAwait(false);
            txid = restored.Txid;
            WriteTxidFile(output, txid);
        }
        return new Follower(client, output, txid, options.Encryption, logger ?? NullLogger.Instance);
    }

    /// <summary>Polls every <paramref name="interval"/> and applies new files until cancelled.</summary>
    public async Task RunAsync(TimeSpan interval, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await PollAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                Log.Warning(_logger, _output, $"follow failed (retrying): {e.Message}");
            }
            await Task.Delay(interval, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Applies every file that continues from the current TXID; returns how many were applied.</summary>
    internal async ValueTask<int> PollAsync(CancellationToken cancellationToken)
    {
        IReadOnlyList<LtxFileInfo> plan = await PlanAsync(cancellationToken).ConfigureAwait(false);
        foreach (LtxFileInfo info in plan)
        {
            await ApplyAsync(info, cancellationToken).ConfigureAwait(false);
        }
        return plan.Count;
    }

    /// <summary>Closes the lock connection and the file.</summary>
    public async ValueTask DisposeAsync()
    {
        await _locker.DisposeAsync().ConfigureAwait(false);
        await _file.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// The files that continue the copy, by the restore planner's rules (<see cref="RestorePlanner.PlanFrom"/>). While
    /// the copy keeps up, a poll lists only L0 from the next TXID; every level is listed when L0 does not continue the
    /// copy (a gap that retention made after compaction) and at least every <see cref="FullListingInterval"/>, well
    /// within L0's retention, so a file that reached only the upper levels is not missed.
    /// </summary>
    /// <exception cref="NonContiguousReplicaException">No level bridges a gap after the copy's TXID.</exception>
    private async ValueTask<IReadOnlyList<LtxFileInfo>> PlanAsync(CancellationToken cancellationToken)
    {
        var next = new Txid(Txid.Value + 1);
        if (_lastFullListing != 0 && Stopwatch.GetElapsedTime(_lastFullListing) < FullListingInterval)
        {
            IReadOnlyList<IReadOnlyList<LtxFileInfo>> tip = await RestorePlanner.ListAsync(_client, 0, next, false, cancellationToken).ConfigureAwait(false);
            if (tip[0].Count == 0)
            {
                return [];
            }
            if (tip[0][0].MinTxid == next)
            {
                try
                {
                    return RestorePlanner.PlanFrom(tip, Txid);
                }
                catch (NonContiguousReplicaException)
                {
                    // A gap further on in L0: the upper levels may bridge it.
                }
            }
        }
        IReadOnlyList<IReadOnlyList<LtxFileInfo>> levels = await RestorePlanner.ListAsync(_client, LtxConstants.SnapshotLevel - 1, Txid.Zero, false, cancellationToken).ConfigureAwait(false);
        _lastFullListing = Stopwatch.GetTimestamp();
        return RestorePlanner.PlanFrom(levels, Txid);
    }

    /// <summary>How often a poll lists every level, not just L0's tip.</summary>
    private static readonly TimeSpan FullListingInterval = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Applies one file with the restore's streamed applier: checked whole first (header, TXID chain, checksum,
    /// growth) so a damaged file never leaves a half-applied copy, then written in place under the exclusive lock.
    /// </summary>
    private async ValueTask ApplyAsync(LtxFileInfo info, CancellationToken cancellationToken)
    {
        string name = RestorePlan.FileName(info);
        uint commit = 0;
        await using StreamedFileApplier applier = StreamedFileApplier.Start(_client, info, _keys, cancellationToken);
        LtxHeader header;
        try
        {
            header = await applier.OpenAsync(cancellationToken).ConfigureAwait(false);
            RestorePlan.CheckFile(info, header, first: false);
            _chain.CheckNext(header);
            commit = (uint)(_file.Length / header.PageSize);
            applier.Verify(commit);
        }
        catch (LtxFormatException e) when (e is not LtxKeyMissingException) // a missing key is the replica's, not this file's
        {
            LtxThrow.InFile(name, e);
            throw; // not reached
        }
        using (SqliteCommand begin = _locker.CreateCommand())
        {
            begin.CommandText = "BEGIN EXCLUSIVE";
            begin.ExecuteNonQuery();
        }
        try
        {
            using var target = RestoreTarget.InPlace(_file.SafeFileHandle);
            await applier.ApplyAsync(target, commit, cancellationToken).ConfigureAwait(false);
            // Page 1 as readers of the copy must see it, whether or not the file carried page 1.
            Span<byte> page1 = stackalloc byte[Page1Patch.Length];
            RandomAccess.Read(_file.SafeFileHandle, page1, 0);
            Page1Patch.Apply(page1, 0, RandomChangeCounter());
            RandomAccess.Write(_file.SafeFileHandle, page1, 0);
            target.Resize((long)header.Commit * header.PageSize);
            target.Commit(IntegrityCheck.None, cancellationToken);
            _file.Flush(flushToDisk: true);
        }
        finally
        {
            using SqliteCommand end = _locker.CreateCommand();
            end.CommandText = "ROLLBACK";
            end.ExecuteNonQuery();
        }
        _chain.Append(header);
        Txid = info.MaxTxid;
        WriteTxidFile(_output, Txid);
        Interlocked.Increment(ref _filesApplied);
        Interlocked.Add(ref _bytesApplied, info.Size);
        Log.Info(_logger, _output, $"applied {LtxFileName.Format(info.MinTxid, info.MaxTxid)} (level {info.Level}), now at txid {Txid}");
        Applied?.Invoke(new ReplicationEvent(ReplicationEventKind.Tx, _output) { Txid = Txid, Timestamp = header.CreatedAt, Size = info.Size });
    }

    private static void PatchHeader(string output)
    {
        using var file = new FileStream(output, FileMode.Open, FileAccess.ReadWrite);
        Span<byte> page1 = stackalloc byte[Page1Patch.Length];
        file.ReadExactly(page1);
        Page1Patch.Apply(page1, 0, RandomChangeCounter());
        file.Position = 0;
        file.Write(page1);
        file.Flush(flushToDisk: true);
    }

    /// <summary>A new change counter for page 1 (<see cref="Page1Patch"/>): readers' pagers see the content changed.</summary>
    private static uint RandomChangeCounter() => BinaryPrimitives.ReadUInt32BigEndian(RandomNumberGenerator.GetBytes(sizeof(uint)));

    private static void WriteTxidFile(string output, Txid txid)
    {
        string path = TxidPath(output);
        string temp = path + ".tmp";
        using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write))
        {
            file.Write(System.Text.Encoding.ASCII.GetBytes(txid.ToString() + "\n"));
            file.Flush(flushToDisk: true);
        }
        FileUtil.CommitRename(temp, path);
    }
}
