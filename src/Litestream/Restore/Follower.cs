using System.Buffers.Binary;
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
internal sealed class Follower : IAsyncDisposable
{
    private readonly IReplicaClient _client;
    private readonly string _output;
    private readonly ILogger _logger;
    private readonly SqliteConnection _locker;
    private readonly FileStream _file;
    private readonly LtxKeyRing? _keys;
    private int _filesApplied;
    private long _bytesApplied;

    private Follower(IReplicaClient client, string output, Txid txid, LtxKeyRing? keys, ILogger logger)
    {
        _client = client;
        _keys = keys;
        _output = output;
        _logger = logger;
        Txid = txid;
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
    public static string TxidPath(string output) => output + "-txid";

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
    public async ValueTask<int> PollAsync(CancellationToken cancellationToken)
    {
        int applied = 0;
        while (await NextAsync(cancellationToken).ConfigureAwait(false) is { } next)
        {
            await ApplyAsync(next, cancellationToken).ConfigureAwait(false);
            applied++;
        }
        return applied;
    }

    /// <summary>Closes the lock connection and the file.</summary>
    public async ValueTask DisposeAsync()
    {
        await _locker.DisposeAsync().ConfigureAwait(false);
        await _file.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>L0 first; when L0 has a gap (retention), a compacted file from levels 1..8 bridges it.</summary>
    private async ValueTask<LtxFileInfo?> NextAsync(CancellationToken cancellationToken)
    {
        for (int level = 0; level < LtxConstants.SnapshotLevel; level++)
        {
            LtxFileInfo? best = null;
            await foreach (LtxFileInfo info in _client.ListLtxFilesAsync(level, Txid.Zero, false, cancellationToken).ConfigureAwait(false))
            {
                if (info.MinTxid.Value <= Txid.Value + 1 && info.MaxTxid > Txid && (best is null || info.MaxTxid > best.MaxTxid))
                {
                    best = info;
                }
            }
            if (best is not null)
            {
                return best;
            }
        }
        return null;
    }

    private async ValueTask ApplyAsync(LtxFileInfo info, CancellationToken cancellationToken)
    {
        await using Stream stream = await _client.OpenLtxFileAsync(info.Level, info.MinTxid, info.MaxTxid, 0, 0, cancellationToken).ConfigureAwait(false);
        // Decode into memory first: a damaged file must not leave a half-applied database.
        var pages = new List<(uint Pgno, byte[] Data)>();
        LtxHeader header;
        using (var decoder = new LtxDecoder(stream, leaveOpen: true) { KeepPageIndex = false, Keys = _keys })
        {
            header = decoder.DecodeHeader();
            byte[] buffer = new byte[header.PageSize];
            while (decoder.TryDecodePage(buffer, out LtxPageHeader ph))
            {
                pages.Add((ph.Pgno, buffer.ToArray()));
            }
            decoder.Close();
        }
        try
        {
            DatabaseGrowth.Check(header, (uint)(_file.Length / header.PageSize), pages.Count == 0 ? 0 : pages[^1].Pgno);
        }
        catch (LtxFormatException e)
        {
            LtxThrow.InFile(RestorePlan.FileName(info), e);
        }
        using (SqliteCommand begin = _locker.CreateCommand())
        {
            begin.CommandText = "BEGIN EXCLUSIVE";
            begin.ExecuteNonQuery();
        }
        try
        {
            foreach ((uint pgno, byte[] data) in pages)
            {
                if (pgno == 1)
                {
                    Page1Patch.Apply(data, 0, RandomChangeCounter());
                }
                RandomAccess.Write(_file.SafeFileHandle, data, (long)(pgno - 1) * header.PageSize);
            }
            if (!pages.Exists(p => p.Pgno == 1))
            {
                Span<byte> counter = stackalloc byte[sizeof(uint)];
                Page1Patch.Apply(counter, Page1Patch.ChangeCounterOffset, RandomChangeCounter());
                RandomAccess.Write(_file.SafeFileHandle, counter, Page1Patch.ChangeCounterOffset);
            }
            _file.SetLength((long)header.Commit * header.PageSize);
            _file.Flush(flushToDisk: true);
        }
        finally
        {
            using SqliteCommand end = _locker.CreateCommand();
            end.CommandText = "ROLLBACK";
            end.ExecuteNonQuery();
        }
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
