using System.Runtime.CompilerServices;
using Litestream.Ltx;
using Litestream.Replication;
using Litestream.Storage.File;
using Litestream.Tests.Fixtures;

namespace Litestream.Tests.Replication;

public sealed class ReplicaListingTests
{
    private static readonly TimeSpan s_ceiling = TimeSpan.FromMinutes(1);

    /// <summary>
    /// The compaction, snapshot and retention ticks fall on the same wall-clock instants: callers that miss the same level
    /// at once share one listing, and the level is then known; a change while a listing runs makes later callers list anew.
    /// </summary>
    [Fact]
    public async Task GetAsync_CallersMissingAtOnce_ShareOneListing()
    {
        var client = new GatedListing(new FileReplicaClient(TestRepo.TempDir()));
        var listing = new ReplicaListing(client);

        ValueTask<List<LtxFileInfo>> first = listing.GetAsync(1, default);
        ValueTask<List<LtxFileInfo>> second = listing.GetAsync(1, default);
        client.Release.SetResult();
        Assert.Empty(await first.AsTask().WaitAsync(s_ceiling));
        Assert.Empty(await second.AsTask().WaitAsync(s_ceiling));
        Assert.Equal(1, client.Listings);
        Assert.Empty(await listing.GetAsync(1, default)); // known now: no request
        Assert.Equal(1, client.Listings);

        client.Release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        ValueTask<List<LtxFileInfo>> before = listing.GetAsync(2, default);
        listing.Added(new LtxFileInfo(2, new Txid(1), new Txid(1), 10, DateTimeOffset.UtcNow));
        ValueTask<List<LtxFileInfo>> after = listing.GetAsync(2, default); // the running listing may not hold the new file
        client.Release.SetResult();
        await before.AsTask().WaitAsync(s_ceiling);
        await after.AsTask().WaitAsync(s_ceiling);
        Assert.Equal(3, client.Listings);
    }

    /// <summary>Counts listings and holds each until <see cref="Release"/> is set.</summary>
    private sealed class GatedListing(FileReplicaClient inner) : DelegatingReplicaClient(inner)
    {
        private int _listings;

        public TaskCompletionSource Release { get; set; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public int Listings => Volatile.Read(ref _listings);

        public override async IAsyncEnumerable<LtxFileInfo> ListLtxFilesAsync(int level, Txid seek, bool useMetadata, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _listings);
            await Release.Task.WaitAsync(cancellationToken);
            await foreach (LtxFileInfo info in Inner.ListLtxFilesAsync(level, seek, useMetadata, cancellationToken))
            {
                yield return info;
            }
        }
    }
}
