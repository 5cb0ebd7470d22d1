using System.Diagnostics;
using System.Text.RegularExpressions;
using Litestream.Ltx;
using Litestream.Replication;
using Litestream.Storage.S3;
using Litestream.Tests.Fixtures;

namespace Litestream.Tests.Replication;

/// <summary>
/// Requests an idle database costs on object storage: the Store with every loop on (upload, compaction of two
/// levels, snapshots, L0 and snapshot retention) at short intervals replicates to s3rver through the counting
/// proxy. Once compaction and retention have caught up, a window spanning several ticks of every loop sees
/// no request at all; a new commit is shipped, compacted and then the replica is quiet again.
/// </summary>
[Collection("s3rver")]
[Requires(Need.Python)]
public sealed class IdleRequestTests(S3rverFixture s3)
{
    private static readonly CompactionOptions s_fastCompaction = new()
    {
        Levels = [TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(2)],
        SnapshotInterval = TimeSpan.FromSeconds(3),
        L0Retention = TimeSpan.FromSeconds(1),
        L0RetentionCheckInterval = TimeSpan.FromMilliseconds(500),
    };

    /// <summary>Longer than every loop's interval twice over: a loop that lists would show up in it.</summary>
    private static readonly TimeSpan s_idleWindow = TimeSpan.FromSeconds(7);

    [RequiresFact(Need.S3rver)]
    public async Task IdleDatabase_AfterCompactionCaughtUp_SendsNoRequests()
    {
        string dir = TestRepo.TempDir();
        string path = Path.Combine(dir, "app.db");
        SqliteWriter.Write(path, 20);
        await using var proxy = new FaultProxy(s3.Server.Port);
        string prefix = S3rverFixture.NewPath("idle");
        await using (Start(path, prefix, proxy, s_fastCompaction))
        {
            // The time-based checkpoint (its _litestream_seq row is one more transaction) happens while settling.
            int settled = await SettleAsync(proxy);
            Assert.True(settled > 0, "nothing was replicated");
            Assert.Equal(0, await RequestsDuringAsync(proxy, s_idleWindow));

            SqliteWriter.Write(path, 5, start: 20); // activity again: shipped, compacted, snapshotted, then quiet
            int active = await SettleAsync(proxy);
            Assert.True(active > settled, "the new commit was not shipped");
            Assert.Equal(0, await RequestsDuringAsync(proxy, s_idleWindow));
        }
        await AssertRestoresAsync(prefix, path, "ok 25 ");
    }

    /// <summary>
    /// A database's whole life at idle with every interval short (levels 1 s / 2 s, snapshots every 3 s kept 4 s, L0
    /// kept 1 s): once the tail of its last write has run its course (climbed the levels, snapshotted, and retention
    /// deleted what expired) nothing is sent; after a restart the only requests are one listing per level, then nothing
    /// again; a write after idling is shipped, compacted and snapshotted as usual, and the replica restores it.
    /// </summary>
    [RequiresFact(Need.S3rver)]
    public async Task IdleDatabase_WholeLifeWithShortRetention_SendsNothingOnceTheTailEnded_AcrossARestart()
    {
        string dir = TestRepo.TempDir();
        string path = Path.Combine(dir, "app.db");
        SqliteWriter.Write(path, 20);
        await using var proxy = new FaultProxy(s3.Server.Port);
        string prefix = S3rverFixture.NewPath("idle-life");
        await using var direct = s3.Client(prefix);
        CompactionOptions options = s_fastCompaction with { SnapshotRetention = TimeSpan.FromSeconds(4) };
        Txid idle;

        await using (var life = Start(path, prefix, proxy, options))
        {
            await SettleAsync(proxy);
            // The tail ran its course: retention left the newest snapshot alone, and it holds the database's position.
            LtxFileInfo snapshot = Assert.Single(await direct.ListLtxFilesAsync(LtxConstants.SnapshotLevel, Txid.Zero, false, default).ToListAsync());
            idle = life.Db.Txid;
            Assert.Equal(idle, snapshot.MaxTxid);
            Assert.True(proxy.RequestLog.Any(static r => r.StartsWith("POST /bkt", StringComparison.Ordinal) && r.Contains("delete", StringComparison.Ordinal)), string.Join("\n", proxy.RequestLog));
            Assert.Equal(0, await RequestsDuringAsync(proxy, s_idleWindow));
        }

        int before = proxy.Requests;
        await using (var life = Start(path, prefix, proxy, options))
        {
            await SettleAsync(proxy);
            // A restart rebuilds the picture with one listing of each level it uses and writes, reads or deletes nothing:
            string[] restart = [.. proxy.RequestLog.Skip(before)];
            // Levels 0 (the start's position), 1 and 2 (compaction) and 9 (snapshot), each once: ticks that coincide share a listing.
            string[] listed = [.. restart.Select(r => Regex.Match(r, $"^GET /bkt/?\\?list-type=2&.*prefix={prefix}%2F([0-9]{{4}})%2F$").Groups[1].Value).Order(StringComparer.Ordinal)];
            Assert.True(listed.SequenceEqual(["0000", "0001", "0002", "0009"]), string.Join("\n", restart));
            Assert.Equal(0, await RequestsDuringAsync(proxy, s_idleWindow));

            SqliteWriter.Write(path, 5, start: 20); // a write after idling: shipped, climbs the levels, snapshotted
            await Wait.UntilAsync(() => life.Db.Txid > idle, "the new commits captured");
            await SettleAsync(proxy);
            Txid txid = life.Db.Txid;
            foreach (int level in (int[])[1, 2, LtxConstants.SnapshotLevel])
            {
                List<LtxFileInfo> files = await direct.ListLtxFilesAsync(level, Txid.Zero, false, default).ToListAsync();
                Assert.Equal(txid, files.Max(f => f.MaxTxid));
            }
            Assert.Equal(0, await RequestsDuringAsync(proxy, s_idleWindow));
            Assert.Equal(0, life.Store.ErrorCount);
        }

        await AssertRestoresAsync(prefix, path, "ok 25 ");
    }

    /// <summary>
    /// What the lease adds at idle: one conditional PUT of lease.json per ttl/3 and nothing else (3600 / (ttl/3) an hour:
    /// 360 with the default 30 s), then one last PUT marking it released when the store stops.
    /// </summary>
    [RequiresFact(Need.S3rver)]
    public async Task IdleDatabase_WithLease_SendsOnlyOneRenewalPerThirdOfTheTtl()
    {
        string dir = TestRepo.TempDir();
        string path = Path.Combine(dir, "app.db");
        SqliteWriter.Write(path, 20);
        await using var proxy = new FaultProxy(s3.Server.Port) { ConditionalWrites = true };
        await using var client = new S3ReplicaClient(s3.Settings(S3rverFixture.NewPath("idle-lease"), proxy.Endpoint));
        var db = new Db(path, new DbOptions { MonitorInterval = TimeSpan.FromMilliseconds(100), CheckpointInterval = TimeSpan.FromSeconds(2) });
        var lease = new Litestream.Lease.LeaseOptions { Ttl = TimeSpan.FromSeconds(3) };
        var store = new Store([new Replica(db, client, new ReplicaOptions { SyncInterval = TimeSpan.FromMilliseconds(100), Lease = lease })], compaction: s_fastCompaction);
        using var stop = new CancellationTokenSource();
        Task run = store.RunAsync(stop.Token);

        await SettleAsync(proxy, static r => !r.Contains("/lease.json", StringComparison.Ordinal));
        int before = proxy.Requests;
        await Task.Delay(s_idleWindow); // the idle window whose requests are counted, not a wait for something
        string[] during = [.. proxy.RequestLog.Skip(before)];
        Assert.All(during, r => Assert.EndsWith("/lease.json", r, StringComparison.Ordinal));
        // 7 s at one renewal a second: never more than 8 (a renewal that timed out after it landed costs one GET,
        // finding the lease still ours, and one more PUT). A machine busy with the rest of the suite stretches the
        // gaps (CI saw 3 in the window), so the floor only asks that renewals go on.
        string[] puts = [.. during.Where(static r => r.StartsWith("PUT /bkt/idle-lease-", StringComparison.Ordinal))];
        int gets = during.Count(static r => r.StartsWith("GET /bkt/idle-lease-", StringComparison.Ordinal));
        Assert.Equal(during.Length, puts.Length + gets);
        Assert.InRange(puts.Length, 2, 8 + gets);

        await stop.CancelAsync();
        await run;
        Assert.EndsWith("/lease.json", proxy.RequestLog[^1], StringComparison.Ordinal);
        Assert.Equal(0, store.ErrorCount);
    }

    private static readonly DbOptions s_db = new() { MonitorInterval = TimeSpan.FromMilliseconds(100), CheckpointInterval = TimeSpan.FromSeconds(2) };

    private S3StoreRun Start(string path, string prefix, FaultProxy proxy, CompactionOptions compaction) => S3StoreRun.Start(s3, path, prefix, proxy, compaction, s_db);

    private Task AssertRestoresAsync(string prefix, string path, string dumpStart) => S3StoreRun.AssertRestoresAsync(s3, prefix, path, dumpStart);

    /// <summary>Waits (up to three minutes: a loaded machine stretches the start-up work) until no request (of those <paramref name="counted"/>) arrived for a whole idle window; returns the request count then.</summary>
    private static async Task<int> SettleAsync(FaultProxy proxy, Func<string, bool>? counted = null)
    {
        var deadline = Stopwatch.StartNew();
        int last = -1;
        var quietSince = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromMinutes(3))
        {
            int now = counted is null ? proxy.Requests : proxy.RequestLog.Count(counted);
            if (now != last)
            {
                last = now;
                quietSince.Restart();
            }
            else if (quietSince.Elapsed >= s_idleWindow)
            {
                return now;
            }
            await Task.Delay(100); // the poll of a condition wait (quiet for a whole window)
        }
        Assert.Fail($"requests never stopped: {string.Join(", ", proxy.RequestLog.TakeLast(20))}");
        return 0;
    }

    private static async Task<int> RequestsDuringAsync(FaultProxy proxy, TimeSpan window)
    {
        int before = proxy.Requests;
        await Task.Delay(window); // proves no request is made within the window
        int during = proxy.Requests - before;
        Assert.True(during == 0, $"requests while idle: {string.Join(", ", proxy.RequestLog.TakeLast(during))}");
        return during;
    }
}
