using System.Diagnostics;
using Litestream.Ltx;
using Litestream.Restore;
using Litestream.Storage;
using Litestream.Storage.S3;
using Litestream.Tests.Fixtures;

namespace Litestream.Tests.Restore;

/// <summary>
/// Restore from s3rver: a snapshot larger than one segment is fetched with parallel ranged GETs (header,
/// tail with the page index, then one per 8 MiB segment), each decoded as it streams, and the result equals
/// the source database; an object that
/// is shorter than listed, a GET that keeps failing, or a server that stops sending fails the restore and leaves
/// no output; a cancellation ends a restore stuck on a stalled server within a second, whatever it waits for.
/// </summary>
[Collection("s3rver")]
[Requires(Need.Python)]
public sealed class S3RestoreTests(S3rverFixture s3)
{
    /// <summary>Replicates a ~21 MB database of random blobs (one L0 snapshot file) and returns its key prefix.</summary>
    private async Task<(string Prefix, string Db, LtxFileInfo Snapshot)> ReplicateAsync(string dir)
    {
        string path = Path.Combine(dir, "app.db");
        RandomBlobDatabase.Create(path, rows: 7000, seed: 7);
        string prefix = S3rverFixture.NewPath("ranged");
        await using S3ReplicaClient client = s3.Client(prefix);
        return (prefix, path, await RandomBlobDatabase.ReplicateOnceAsync(path, client));
    }

    [RequiresFact(Need.S3rver)]
    public async Task Restore_LargeSnapshot_ParallelRangedGets_SameDatabase()
    {
        string dir = TestRepo.TempDir();
        (string prefix, string db, LtxFileInfo snapshot) = await ReplicateAsync(dir);
        Assert.True(snapshot.Size > 2 * SegmentedFileApplier.SegmentBytes, $"snapshot too small to need ranges: {snapshot.Size}");

        await using var proxy = new FaultProxy(s3.Server.Port);
        await using var client = new S3ReplicaClient(s3.Settings(prefix, proxy.Endpoint));
        string output = Path.Combine(dir, "out.db");
        RestoreResult result = await Restorer.RestoreAsync(client, new RestoreOptions { OutputPath = output, Parallelism = 3 }, default);

        Assert.Equal(RandomBlobDatabase.Dump(db), RandomBlobDatabase.Dump(output));
        Assert.Equal(snapshot, Assert.Single(result.Plan));
        string key = $"/{S3rver.Bucket}/{client.LtxKey(0, snapshot.MinTxid, snapshot.MaxTxid)}";
        // One GET for the header, one for the tail holding the page index, one per segment: segments end at the
        // first frame boundary 8 MiB past their start, so a ~20 MiB file has three.
        long segments = (snapshot.Size + SegmentedFileApplier.SegmentBytes - 1) / SegmentedFileApplier.SegmentBytes;
        Assert.Equal(3, segments);
        Assert.Equal(2 + segments, proxy.RequestLog.Count(r => r.StartsWith($"GET {key}", StringComparison.Ordinal)));
    }

    [RequiresFact(Need.S3rver)]
    public async Task Restore_LargeSnapshot_GetsKeepFailing_ErrorNamesKeyAndNoOutput()
    {
        string dir = TestRepo.TempDir();
        (string prefix, _, LtxFileInfo snapshot) = await ReplicateAsync(dir);
        await using var proxy = new FaultProxy(s3.Server.Port);
        await using var client = new S3ReplicaClient(s3.Settings(prefix, proxy.Endpoint)) { MaxErrorRetries = 1 };
        IReadOnlyList<LtxFileInfo> plan = await RestorePlanner.PlanAsync(client, Txid.Zero, null, default);
        proxy.Inject(FaultProxy.Fault.InternalError);
        string output = Path.Combine(dir, "out.db");
        IOException error = await Assert.ThrowsAsync<IOException>(async () => await Restorer.RestoreAsync(client, RestorePlan.Of(plan), new RestoreOptions { OutputPath = output }, default));
        Assert.StartsWith($"s3: get object s3://{S3rver.Bucket}/{client.LtxKey(0, snapshot.MinTxid, snapshot.MaxTxid)}: InternalError (HTTP 500)", error.Message);
        Assert.False(File.Exists(output));
        Assert.False(File.Exists(output + ".tmp"));
    }

    [RequiresFact(Need.S3rver)]
    public async Task Restore_ObjectShorterThanListed_FailsNamingTheFile()
    {
        string dir = TestRepo.TempDir();
        (string prefix, _, LtxFileInfo snapshot) = await ReplicateAsync(dir);
        await using S3ReplicaClient client = s3.Client(prefix);
        LtxFileInfo[] plan = [snapshot with { Size = snapshot.Size + 100 }]; // the last range ends past the object
        string output = Path.Combine(dir, "out.db");
        LtxFormatException error = await Assert.ThrowsAsync<LtxFormatException>(async () => await Restorer.RestoreAsync(client, RestorePlan.Of(plan), new RestoreOptions { OutputPath = output }, default));
        Assert.Equal($"ltx/0/0000000000000001-0000000000000001.ltx: file is shorter than its listed size {snapshot.Size + 100} (ended at {snapshot.Size})", error.Message);
        Assert.False(File.Exists(output));
    }

    /// <summary>A small database (one ~300 kB snapshot, fetched whole ahead of its turn) and a client to it through <paramref name="proxy"/>.</summary>
    private async Task<(S3ReplicaClient Client, LtxFileInfo Snapshot, string Dir)> SmallReplicaAsync(FaultProxy proxy, StorageTimeouts timeouts)
    {
        string dir = TestRepo.TempDir();
        string path = Path.Combine(dir, "small.db");
        RandomBlobDatabase.Create(path, rows: 100, seed: 3);
        string prefix = S3rverFixture.NewPath("small");
        LtxFileInfo snapshot;
        await using (S3ReplicaClient direct = s3.Client(prefix))
        {
            snapshot = await RandomBlobDatabase.ReplicateOnceAsync(path, direct);
        }
        Assert.True(snapshot.Size < StreamedFileApplier.InMemoryFetchLimit, $"snapshot too large for the small-file path: {snapshot.Size}");
        return (new S3ReplicaClient(s3.Settings(prefix, proxy.Endpoint)) { Timeouts = timeouts }, snapshot, dir);
    }

    [RequiresFact(Need.S3rver)]
    public async Task Restore_SmallFileBodyStalls_FailsAfterTheIdleTimeout_NamingTheObject_NoOutput()
    {
        await using var proxy = new FaultProxy(s3.Server.Port);
        (S3ReplicaClient client, LtxFileInfo snapshot, string dir) = await SmallReplicaAsync(proxy, new StorageTimeouts { Idle = TimeSpan.FromSeconds(2) });
        await using (client)
        {
            IReadOnlyList<LtxFileInfo> plan = await RestorePlanner.PlanAsync(client, Txid.Zero, null, default);
            proxy.Inject(FaultProxy.Fault.StallInBody);
            string output = Path.Combine(dir, "out.db");
            var clock = Stopwatch.StartNew();
            IOException error = await Assert.ThrowsAsync<IOException>(async () => await Restorer.RestoreAsync(client, RestorePlan.Of(plan), new RestoreOptions { OutputPath = output }, default));
            Assert.Equal($"s3: get object s3://{S3rver.Bucket}/{client.LtxKey(0, snapshot.MinTxid, snapshot.MaxTxid)}: stalled: response body: no data for 2s", error.Message);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"took {clock.Elapsed}");
            Assert.False(File.Exists(output));
            Assert.False(File.Exists(output + ".tmp"));
        }
    }

    /// <summary>
    /// A restore waiting on a stalled server — while planning (the listing) or while fetching a small file (no
    /// response, or a body that stops) — stops within a second of its cancellation, long before the default
    /// limits of a minute would end it, and leaves nothing behind.
    /// </summary>
    [RequiresTheory(Need.S3rver)]
    [InlineData(false, FaultProxy.Fault.StallAtConnect)]
    [InlineData(false, FaultProxy.Fault.StallInBody)]
    [InlineData(true, FaultProxy.Fault.StallAtConnect)]
    [InlineData(true, FaultProxy.Fault.StallInHeaders)]
    [InlineData(true, FaultProxy.Fault.StallInBody)]
    public async Task Restore_CancelledWhileTheServerStalls_StopsWithinASecond(bool planned, FaultProxy.Fault fault)
    {
        await using var proxy = new FaultProxy(s3.Server.Port);
        (S3ReplicaClient client, _, string dir) = await SmallReplicaAsync(proxy, new StorageTimeouts());
        await using (client)
        {
            IReadOnlyList<LtxFileInfo>? plan = planned ? await RestorePlanner.PlanAsync(client, Txid.Zero, null, default) : null;
            proxy.Inject(fault);
            string output = Path.Combine(dir, "out.db");
            using var cancel = new CancellationTokenSource();
            var options = new RestoreOptions { OutputPath = output };
            Task restore = plan is null
                ? Restorer.RestoreAsync(client, options, cancel.Token).AsTask()
                : Restorer.RestoreAsync(client, RestorePlan.Of(plan), options, cancel.Token).AsTask();
            await proxy.WaitForStallAsync(restore, TimeSpan.FromSeconds(30));
            var clock = Stopwatch.StartNew();
            cancel.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => restore.WaitAsync(TimeSpan.FromSeconds(30)));
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"cancellation took {clock.Elapsed}");
            Assert.False(File.Exists(output));
            Assert.False(File.Exists(output + ".tmp"));
        }
    }
}
