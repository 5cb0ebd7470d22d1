using Litestream.Ltx;
using Litestream.Restore;
using Litestream.Storage.File;
using Litestream.Tests.Fixtures;

namespace Litestream.Tests.Restore;

/// <summary>
/// Files larger than <see cref="StreamedFileApplier.InMemoryFetchLimit"/> restore by segments (SegmentedFileApplier): the
/// page index cuts the frames into ~8 MiB ranges that parallel workers fetch, decode and write on their own,
/// and the file checksum is recombined from theirs. A damaged segment fails the whole restore with the file's
/// name; a worker's failure stops the others and is the error reported; nothing is left behind.
/// </summary>
[Requires(Need.Python)]
public sealed class SegmentedRestoreTests
{
    /// <summary>A ~24 MB database of random blobs replicated as one L0 snapshot to a file replica.</summary>
    private static async Task<(string Replica, string Db, LtxFileInfo Snapshot)> ReplicateAsync(int pageSize = 4096)
    {
        string dir = TestRepo.TempDir();
        string path = Path.Combine(dir, "app.db");
        RandomBlobDatabase.Create(path, rows: 8000, seed: 11, pageSize);
        string replica = Path.Combine(dir, "replica");
        return (replica, path, await RandomBlobDatabase.ReplicateOnceAsync(path, new FileReplicaClient(replica)));
    }

    [RequiresFact]
    public async Task Restore_LargeFile_BySegments_EqualsSource()
    {
        (string replica, string db, LtxFileInfo snapshot) = await ReplicateAsync();
        var client = new FileReplicaClient(replica);
        LtxFrameSegments plan = await SegmentedFileApplier.PlanAsync(client, snapshot, default);
        Assert.Equal(3, plan.Segments.Count);
        Assert.Equal(snapshot.MaxTxid, plan.Header.MaxTxid);

        string output = Path.Combine(TestRepo.TempDir(), "out.db");
        RestoreResult result = await Restorer.RestoreAsync(client, new RestoreOptions { OutputPath = output, Parallelism = 2 }, default);

        Assert.Equal(snapshot, Assert.Single(result.Plan));
        Assert.Equal(RandomBlobDatabase.Dump(db), RandomBlobDatabase.Dump(output));
    }

    [RequiresFact]
    public async Task Restore_LargeFile_DamagedMiddleSegment_FailsNamingTheFile_NoOutput()
    {
        (string replica, _, LtxFileInfo snapshot) = await ReplicateAsync();
        string path = new FileReplicaClient(replica).LtxFilePath(0, snapshot.MinTxid, snapshot.MaxTxid);
        using (var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite))
        {
            // A random page is stored as LZ4 literals: a byte in the middle of the file is page data.
            file.Position = snapshot.Size / 2;
            int b = file.ReadByte();
            file.Position = snapshot.Size / 2;
            file.WriteByte((byte)(b ^ 0x5a));
        }
        string output = Path.Combine(TestRepo.TempDir(), "out.db");
        LtxFormatException error = await Assert.ThrowsAnyAsync<LtxFormatException>(async () =>
            await Restorer.RestoreAsync(new FileReplicaClient(replica), new RestoreOptions { OutputPath = output }, default));
        Assert.StartsWith("ltx/0/0000000000000001-0000000000000001.ltx: file checksum mismatch", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(output));
        Assert.False(File.Exists(output + ".tmp"));
    }

    [RequiresFact]
    public async Task Restore_LargeFile_OneSegmentFetchFails_ThatErrorReported_NoOutput()
    {
        (string replica, _, LtxFileInfo snapshot) = await ReplicateAsync();
        var client = new RangeClient(new FileReplicaClient(replica), failAtOffset: snapshot.Size / 2);
        string output = Path.Combine(TestRepo.TempDir(), "out.db");
        IOException error = await Assert.ThrowsAsync<IOException>(async () =>
            await Restorer.RestoreAsync(client, new RestoreOptions { OutputPath = output, Parallelism = 3 }, default));
        Assert.Equal("connection reset while reading the second segment", error.Message);
        Assert.False(File.Exists(output));
        Assert.False(File.Exists(output + ".tmp"));
    }

    [RequiresFact]
    public async Task Restore_IndexLargerThanTheTailRead_StreamedThroughItsOwnRead_EqualsSource()
    {
        // 512-byte pages: ~50 000 index entries (~390 KB) against a tail read of ~0.4 % of the file (~100 KB).
        (string replica, string db, LtxFileInfo snapshot) = await ReplicateAsync(pageSize: 512);
        var client = new RangeClient(new FileReplicaClient(replica));
        string output = Path.Combine(TestRepo.TempDir(), "out.db");
        await Restorer.RestoreAsync(client, new RestoreOptions { OutputPath = output }, default);

        Assert.Equal(RandomBlobDatabase.Dump(db), RandomBlobDatabase.Dump(output));
        long tailRead = snapshot.Size / 256;
        (long Offset, long Size)[] tail = client.Reads.Where(r => r.Offset + r.Size == snapshot.Size).OrderBy(r => r.Offset).ToArray();
        Assert.Equal(2, tail.Length); // the index is streamed by a second read that starts where it starts
        Assert.Equal(tailRead, tail[1].Size);
        Assert.True(tail[0].Size > 3 * tailRead, $"index read of {tail[0].Size} bytes");
    }

    [RequiresFact]
    public async Task Restore_SegmentBodyStalls_FailsAfterTheStallTimeout_NamingFileAndRange_NoOutput()
    {
        (string replica, _, LtxFileInfo snapshot) = await ReplicateAsync();
        var client = new RangeClient(new FileReplicaClient(replica), stallAtOffset: snapshot.Size / 2);
        string output = Path.Combine(TestRepo.TempDir(), "out.db");
        IOException error = await Assert.ThrowsAsync<IOException>(async () => await Restorer.RestoreAsync(client,
            new RestoreOptions { OutputPath = output, StallTimeout = TimeSpan.FromSeconds(1) }, default));
        (long offset, long size) = client.Reads.Single(r => r.Offset <= snapshot.Size / 2 && snapshot.Size / 2 < r.Offset + r.Size && r.Size > 1 << 20);
        Assert.Equal($"ltx/0/0000000000000001-0000000000000001.ltx bytes {offset}-{offset + size - 1}: no data for 1s", error.Message);
        Assert.False(File.Exists(output));
        Assert.False(File.Exists(output + ".tmp"));
    }

    [RequiresFact]
    public async Task Restore_Cancelled_WhileASegmentBodyStalls_StopsWithoutWaitingForIt()
    {
        (string replica, _, LtxFileInfo snapshot) = await ReplicateAsync();
        var client = new RangeClient(new FileReplicaClient(replica), stallAtOffset: snapshot.Size / 2);
        string output = Path.Combine(TestRepo.TempDir(), "out.db");
        using var cancel = new CancellationTokenSource();
        Task restore = Restorer.RestoreAsync(client, new RestoreOptions { OutputPath = output }, cancel.Token).AsTask();
        while (!client.Stalled.IsCompleted)
        {
            await Task.WhenAny(client.Stalled, restore);
            Assert.False(restore.IsCompleted, $"restore ended before the stall: {restore.Exception}");
        }
        cancel.Cancel();
        // The stall timeout is 60 s: only the cancellation reaching the blocked read can end it sooner.
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => restore.WaitAsync(TimeSpan.FromMinutes(2)));
        Assert.False(File.Exists(output + ".tmp"));
    }

    /// <summary>
    /// Records every ranged read; the read of the segment that holds <c>failAtOffset</c> fails, the one that
    /// holds <c>stallAtOffset</c> returns a body that never sends a byte.
    /// </summary>
    private sealed class RangeClient(FileReplicaClient inner, long failAtOffset = -1, long stallAtOffset = -1) : DelegatingReplicaClient(inner)
    {
        private readonly TaskCompletionSource _stalled = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public System.Collections.Concurrent.ConcurrentQueue<(long Offset, long Size)> Reads { get; } = new();

        /// <summary>Completes when a reader is blocked on the stalling body.</summary>
        public Task Stalled => _stalled.Task;

        public override ValueTask<Stream> OpenLtxFileAsync(int level, Txid minTxid, Txid maxTxid, long offset, long size, CancellationToken cancellationToken)
        {
            Reads.Enqueue((offset, size));
            bool segment = size > SegmentedFileApplier.SegmentBytes / 2;
            if (segment && offset <= failAtOffset && failAtOffset < offset + size)
            {
                throw new IOException("connection reset while reading the second segment");
            }
            return segment && offset <= stallAtOffset && stallAtOffset < offset + size
                ? ValueTask.FromResult<Stream>(new StallingStream(_stalled))
                : Inner.OpenLtxFileAsync(level, minTxid, maxTxid, offset, size, cancellationToken);
        }
    }

    /// <summary>A response body whose bytes never come: reads wait until cancelled.</summary>
    private sealed class StallingStream(TaskCompletionSource stalled) : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            stalled.TrySetResult();
            await Task.Delay(Timeout.Infinite, cancellationToken); // stalls until cancelled: the scenario
            return 0;
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new InvalidOperationException("a network body is read with ReadAsync here");
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
