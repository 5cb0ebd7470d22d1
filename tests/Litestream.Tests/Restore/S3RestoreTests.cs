using Litestream.Ltx;
using Litestream.Restore;
using Litestream.Storage.S3;
using Litestream.Testing;
using Litestream.Tests.Fixtures;

namespace Litestream.Tests.Restore;

/// <summary>
/// Restore from s3rver: a snapshot larger than one segment is fetched with parallel ranged GETs (header,
/// tail with the page index, then one per 8 MiB segment), each decoded as it streams, and the result equals
/// the source database; an object that
/// is shorter than listed, or a GET that keeps failing, fails the restore and leaves no output.
/// </summary>
[Collection("s3rver")]
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

    [S3Fact]
    public async Task Restore_LargeSnapshot_ParallelRangedGets_SameDatabase()
    {
        string dir = TestPaths.TempDir();
        (string prefix, string db, LtxFileInfo snapshot) = await ReplicateAsync(dir);
        Assert.True(snapshot.Size > 2 * SegmentedFileApply.SegmentBytes, $"snapshot too small to need ranges: {snapshot.Size}");

        await using var proxy = new FaultProxy(s3.Server.Port);
        await using var client = new S3ReplicaClient(s3.Settings(prefix, proxy.Endpoint));
        string output = Path.Combine(dir, "out.db");
        RestoreResult result = await Restorer.RestoreAsync(client, new RestoreOptions { OutputPath = output, Parallelism = 3 }, default);

        Assert.Equal(RandomBlobDatabase.Dump(db), RandomBlobDatabase.Dump(output));
        Assert.Equal(snapshot, Assert.Single(result.Plan));
        string key = $"/{S3rver.Bucket}/{client.LtxKey(0, snapshot.MinTxid, snapshot.MaxTxid)}";
        // One GET for the header, one for the tail holding the page index, one per segment: segments end at the
        // first frame boundary 8 MiB past their start, so a ~20 MiB file has three.
        long segments = (snapshot.Size + SegmentedFileApply.SegmentBytes - 1) / SegmentedFileApply.SegmentBytes;
        Assert.Equal(3, segments);
        Assert.Equal(2 + segments, proxy.RequestLog.Count(r => r.StartsWith($"GET {key}", StringComparison.Ordinal)));
    }

    [S3Fact]
    public async Task Restore_LargeSnapshot_GetsKeepFailing_ErrorNamesKeyAndNoOutput()
    {
        string dir = TestPaths.TempDir();
        (string prefix, _, LtxFileInfo snapshot) = await ReplicateAsync(dir);
        await using var proxy = new FaultProxy(s3.Server.Port);
        await using var client = new S3ReplicaClient(s3.Settings(prefix, proxy.Endpoint)) { MaxErrorRetries = 1 };
        IReadOnlyList<LtxFileInfo> plan = await RestorePlanner.PlanAsync(client, Txid.Zero, null, default);
        proxy.Inject(FaultProxy.Fault.InternalError);
        string output = Path.Combine(dir, "out.db");
        IOException error = await Assert.ThrowsAsync<IOException>(async () => await Restorer.ApplyAsync(client, plan, new RestoreOptions { OutputPath = output }, default));
        Assert.StartsWith($"s3: get object s3://{S3rver.Bucket}/{client.LtxKey(0, snapshot.MinTxid, snapshot.MaxTxid)}: InternalError (HTTP 500)", error.Message);
        Assert.False(File.Exists(output));
        Assert.False(File.Exists(output + ".tmp"));
    }

    [S3Fact]
    public async Task Restore_ObjectShorterThanListed_FailsNamingTheFile()
    {
        string dir = TestPaths.TempDir();
        (string prefix, _, LtxFileInfo snapshot) = await ReplicateAsync(dir);
        await using S3ReplicaClient client = s3.Client(prefix);
        LtxFileInfo[] plan = [snapshot with { Size = snapshot.Size + 100 }]; // the last range ends past the object
        string output = Path.Combine(dir, "out.db");
        LtxFormatException error = await Assert.ThrowsAsync<LtxFormatException>(async () => await Restorer.ApplyAsync(client, plan, new RestoreOptions { OutputPath = output }, default));
        Assert.Equal($"ltx/0/0000000000000001-0000000000000001.ltx: file is shorter than its listed size {snapshot.Size + 100} (ended at {snapshot.Size})", error.Message);
        Assert.False(File.Exists(output));
    }
}
