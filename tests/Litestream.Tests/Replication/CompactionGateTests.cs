using Litestream.Ltx;
using Litestream.Replication;
using Litestream.Storage;
using Litestream.Storage.File;
using Litestream.Tests.Fixtures;

namespace Litestream.Tests.Replication;

/// <summary>
/// Every database's compaction ticks fall on the same wall-clock multiples: <see cref="StoreOptions.MaxConcurrentCompactions"/>
/// bounds how many passes run at once across the store.
/// </summary>
[Requires(Need.Python)]
public class CompactionGateTests
{
    /// <summary>Counts compaction uploads (level 1 and up) in flight across every client sharing it, each held a moment.</summary>
    private sealed class InFlight
    {
        private int _now;
        private int _max;
        private int _total;

        public int Max => Volatile.Read(ref _max);

        public int Total => Volatile.Read(ref _total);

        public async ValueTask<T> Track<T>(Func<ValueTask<T>> upload)
        {
            int now = Interlocked.Increment(ref _now);
            int seen;
            while (now > (seen = Volatile.Read(ref _max)) && Interlocked.CompareExchange(ref _max, now, seen) != seen)
            {
            }
            try
            {
                await Task.Delay(300);
                return await upload();
            }
            finally
            {
                Interlocked.Decrement(ref _now);
                Interlocked.Increment(ref _total);
            }
        }
    }

    private sealed class TrackingClient(IReplicaClient inner, InFlight inFlight) : DelegatingReplicaClient(inner)
    {
        public override ValueTask<LtxFileInfo> WriteLtxFileAsync(int level, Txid minTxid, Txid maxTxid, Stream data, CancellationToken cancellationToken)
            => level == 0 ? Inner.WriteLtxFileAsync(level, minTxid, maxTxid, data, cancellationToken)
                : inFlight.Track(() => Inner.WriteLtxFileAsync(level, minTxid, maxTxid, data, cancellationToken));

        // A level made of one file is a server-side copy.
        public override ValueTask<LtxFileInfo?> CopyLtxFileAsync(LtxFileInfo source, int level, CancellationToken cancellationToken)
            => inFlight.Track(() => Inner.CopyLtxFileAsync(source, level, cancellationToken));
    }

    [RequiresFact]
    public async Task Store_ManyDatabasesCompactingOnTheSameTick_RunsAtMostTheLimitAtOnce()
    {
        string dir = TestRepo.TempDir();
        var inFlight = new InFlight();
        string[] paths = [.. Enumerable.Range(0, 4).Select(i => Path.Combine(dir, $"t{i}.db"))];
        foreach (string path in paths)
        {
            SqliteWriter.Write(path, 5);
        }
        FileReplicaClient[] files = [.. paths.Select(p => new FileReplicaClient(Path.Combine(dir, "replica", Path.GetFileName(p))))];
        var store = new Store(
            paths.Select((p, i) => new Replica(new Db(p, StoreTests.s_fastDb), new TrackingClient(files[i], inFlight), StoreTests.s_fastReplica)),
            new StoreOptions { MaxConcurrentCompactions = 1 },
            compaction: new CompactionOptions { Levels = [TimeSpan.FromSeconds(1)], RetentionEnabled = false });
        using var stop = new CancellationTokenSource();
        Task run = store.RunAsync(stop.Token);
        await Wait.UntilAsync(() => files.All(f => Directory.Exists(f.LevelDirectory(1)) && Directory.EnumerateFiles(f.LevelDirectory(1), "*.ltx").Any()),
            "every database to be compacted into level 1");
        await stop.CancelAsync();
        await run;

        Assert.Equal(0, store.ErrorCount);
        Assert.True(inFlight.Total >= paths.Length, $"{inFlight.Total} compaction uploads");
        Assert.Equal(1, inFlight.Max);
    }
}
