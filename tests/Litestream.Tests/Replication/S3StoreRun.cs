using Litestream.Replication;
using Litestream.Restore;
using Litestream.Storage.S3;
using Litestream.Tests.Fixtures;

namespace Litestream.Tests.Replication;

/// <summary>
/// One run of a <see cref="Store"/> replicating a database to s3rver through the counting proxy, with every loop on
/// (upload, compaction); disposing stops it (final sync) and checks it logged no error.
/// </summary>
internal sealed class S3StoreRun : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly S3ReplicaClient _client;
    private readonly Task _run;

    private S3StoreRun(S3ReplicaClient client, Replica replica, Store store)
    {
        _client = client;
        Replica = replica;
        Store = store;
        _run = store.RunAsync(_stop.Token);
    }

    public Replica Replica { get; }

    public Db Db => Replica.Db;

    public Store Store { get; }

    /// <summary>Starts replicating <paramref name="path"/> to <paramref name="prefix"/>, polling every 100 ms.</summary>
    public static S3StoreRun Start(S3rverFixture s3, string path, string prefix, FaultProxy proxy, CompactionOptions compaction, DbOptions options)
    {
        var client = new S3ReplicaClient(s3.Settings(prefix, proxy.Endpoint));
        var replica = new Replica(new Db(path, options), client, new ReplicaOptions { SyncInterval = TimeSpan.FromMilliseconds(100) });
        return new S3StoreRun(client, replica, new Store([replica], compaction: compaction));
    }

    /// <summary>The replica at <paramref name="prefix"/> restores to what <paramref name="path"/> holds, whose dump starts with <paramref name="dumpStart"/>.</summary>
    public static async Task AssertRestoresAsync(S3rverFixture s3, string prefix, string path, string dumpStart = "")
    {
        await using var direct = s3.Client(prefix);
        string output = Path.Combine(Path.GetDirectoryName(path)!, "restored.db");
        await Restorer.RestoreAsync(direct, new RestoreOptions { OutputPath = output }, default);
        string expected = SqliteWriter.Dump(path);
        Assert.StartsWith(dumpStart, expected);
        Assert.Equal(expected, SqliteWriter.Dump(output));
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _run;
        Assert.Equal(0, Store.ErrorCount);
        await _client.DisposeAsync();
        _stop.Dispose();
    }
}
