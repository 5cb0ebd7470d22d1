using System.Text.RegularExpressions;
using Litestream.Ltx;
using Litestream.Replication;
using Litestream.Tests.Fixtures;

namespace Litestream.Tests.Replication;

/// <summary>
/// Level 1 merges the L0 files from the local copies (issue 22 goal 5): they stay after the upload until a level-1 pass
/// merged them, so with a steady writer the pass downloads nothing (it sent one GET per L0 file before, ~3,660 an hour
/// for the bench's writer), a restart's first pass reads what the last run left on disk, and past
/// <see cref="DbOptions.L0CompactionCacheLimit"/> the oldest go and the pass downloads them. Replicated to s3rver
/// through the counting proxy.
/// </summary>
[Collection("s3rver")]
[Requires(Need.Python)]
public sealed partial class LocalL0CompactionTests(S3rverFixture s3)
{
    private static readonly CompactionOptions s_fastLevels = new() { Levels = [TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(4)] };

    /// <summary>A level 1 that no test sees run: its files wait for it.</summary>
    private static readonly CompactionOptions s_levelOneNever = new() { Levels = [TimeSpan.FromDays(7)] };

    private static readonly Workload s_steadyWriter = new() { Seconds = 5, Pause = 0.05, Pad = 500 };

    [RequiresFact(Need.S3rver)]
    public async Task SteadyWriter_LevelOneMergesTheLocalFiles_NoDownload_ThenTheyGo()
    {
        string path = NewDb();
        await using var proxy = new FaultProxy(s3.Server.Port);
        string prefix = S3rverFixture.NewPath("l0-local");
        await using (var life = Start(path, prefix, proxy, s_fastLevels))
        {
            await Task.Run(() => SqliteWriter.Write(path, s_steadyWriter with { Start = 20 }));
            await MergedAsync(life);

            string[] log = [.. proxy.RequestLog];
            Assert.Empty(L0Downloads(log));
            // Merges, not copies of one file: each read its sources (several L0 files) from the local disk.
            Assert.True(Merges(log, prefix) >= 2, string.Join("\n", log));
            // Merged: only the newest local file (the position's anchor) stays.
            await Wait.UntilAsync(() => LocalFiles(life.Db).SequenceEqual([life.Db.Txid]), "the merged local files to go");
        }
        await AssertRestoresAsync(prefix, path);
    }

    [RequiresFact(Need.S3rver)]
    public async Task Restart_FirstLevelOnePassReadsTheFilesTheLastRunLeft()
    {
        string path = NewDb();
        await using var proxy = new FaultProxy(s3.Server.Port);
        string prefix = S3rverFixture.NewPath("l0-restart");
        Txid first, last;
        await using (var life = Start(path, prefix, proxy, s_levelOneNever))
        {
            await UploadedAsync(life);
            first = life.Db.Txid;
            SqliteWriter.Write(path, new Workload { Commits = 10, Start = 20, Pause = 0.3 }); // an L0 file or two each
            await SettledAsync(life);
            last = life.Db.Txid;
            Assert.True(last.Value > first.Value + 4, $"{first} to {last}");
            // Uploaded but not merged: every file stays for level 1.
            Assert.Equal(Range(new Txid(1), last), LocalFiles(life.Db));
        }

        int before = proxy.Requests;
        await using (var life = Start(path, prefix, proxy, s_fastLevels))
        {
            await MergedAsync(life);
            string[] restart = [.. proxy.RequestLog.Skip(before)];
            Assert.Empty(L0Downloads(restart));
            Assert.True(Merges(restart, prefix) >= 1, string.Join("\n", restart)); // the first L0 file, the whole database, merged with the rest
            await Wait.UntilAsync(() => LocalFiles(life.Db).SequenceEqual([life.Db.Txid]), "the merged local files to go");
        }
        await AssertRestoresAsync(prefix, path);
    }

    [RequiresFact(Need.S3rver)]
    public async Task PastTheCacheBound_TheOldestGo_LevelOneDownloadsThem()
    {
        const long Bound = 16 * 1024;
        string path = NewDb();
        await using var proxy = new FaultProxy(s3.Server.Port);
        string prefix = S3rverFixture.NewPath("l0-bound");
        Txid first, last, oldestKept;
        await using (var life = Start(path, prefix, proxy, s_levelOneNever, Bound))
        {
            await UploadedAsync(life);
            first = life.Db.Txid;
            SqliteWriter.Write(path, new Workload { Commits = 40, Start = 20, Sizes = "3000", Pause = 0.15 }); // ~160 KB in 20 L0 files or more
            await SettledAsync(life);
            last = life.Db.Txid;
            Assert.True(last.Value > first.Value + 10, $"{first} to {last}");
            // A contiguous run of the newest files within the bound (and the newest, the anchor, besides) stays.
            Txid[] kept = LocalFiles(life.Db);
            Assert.Equal(Range(kept[0], last), kept);
            long cached = kept[..^1].Sum(t => new FileInfo(life.Db.L0FilePath(t)).Length);
            Assert.InRange(cached, 1, Bound);
            Assert.True(kept[0] > first, $"kept from {kept[0]}");
            oldestKept = kept[0];
        }

        int before = proxy.Requests;
        await using (var life = Start(path, prefix, proxy, s_fastLevels, Bound))
        {
            await MergedAsync(life);
            // What the bound let go is read from the replica, what it kept is not.
            Txid[] downloaded = [.. L0Downloads(proxy.RequestLog.Skip(before)).Select(static r => LtxFileName.TryParse(Path.GetFileName(r), out _, out Txid max) ? max : Txid.Zero).Order()];
            Assert.Equal(Range(new Txid(1), new Txid(oldestKept.Value - 1)), downloaded);
        }
        await AssertRestoresAsync(prefix, path);
    }

    private static string NewDb()
    {
        string path = Path.Combine(TestRepo.TempDir(), "app.db");
        SqliteWriter.Write(path, 20);
        return path;
    }

    /// <summary>GETs of L0 objects (not listings) among <paramref name="requests"/>.</summary>
    private static string[] L0Downloads(IEnumerable<string> requests) => [.. requests.Where(static r => L0Object().IsMatch(r))];

    /// <summary>Level-1 files written by a merge (a PUT with a body, its name a range of TXIDs; a copy sends no body but this counts by name).</summary>
    private static int Merges(IEnumerable<string> requests, string prefix)
        => requests.Select(r => Regex.Match(r, $"^PUT /bkt/{prefix}/0001/([0-9a-f]{{16}})-([0-9a-f]{{16}})\\.ltx$")).Count(static m => m.Success && m.Groups[1].Value != m.Groups[2].Value);

    [GeneratedRegex(@"^GET /bkt/[^?]*/0000/[0-9a-f]{16}-[0-9a-f]{16}\.ltx")]
    private static partial Regex L0Object();

    private static Txid[] LocalFiles(Db db)
        => [.. Directory.EnumerateFiles(db.L0Directory, "*.ltx").Select(f => LtxFileName.TryParse(Path.GetFileName(f), out _, out Txid max) ? max : Txid.Zero).Order()];

    private static Txid[] Range(Txid from, Txid through) => [.. Enumerable.Range(0, (int)(through.Value - from.Value + 1)).Select(i => new Txid(from.Value + (ulong)i))];

    private Task AssertRestoresAsync(string prefix, string path) => S3StoreRun.AssertRestoresAsync(s3, prefix, path);

    private S3StoreRun Start(string path, string prefix, FaultProxy proxy, CompactionOptions compaction, long? cacheLimit = null)
        => S3StoreRun.Start(s3, path, prefix, proxy, compaction, cacheLimit is { } limit ? StoreTests.s_fastDb with { L0CompactionCacheLimit = limit } : StoreTests.s_fastDb);

    /// <summary>Until the replica holds every TXID captured.</summary>
    private static Task UploadedAsync(S3StoreRun run) => Wait.UntilAsync(() => run.Db.Txid > Txid.Zero && run.Replica.RemoteTxid == run.Db.Txid, "the replica to hold every commit");

    /// <summary>Until the replica holds every TXID captured and no new one came for a second (the writer's last commit captured).</summary>
    private static async Task SettledAsync(S3StoreRun run)
    {
        Txid seen;
        do
        {
            seen = run.Db.Txid;
            await Task.Delay(1000); // a quiet second: the capture polls every 100 ms
            await UploadedAsync(run);
        }
        while (run.Db.Txid != seen);
    }

    /// <summary>Until level 1 holds every TXID captured.</summary>
    private static async Task MergedAsync(S3StoreRun run)
    {
        await UploadedAsync(run);
        await Wait.UntilAsync(() => run.Replica.MergedL0Through == run.Db.Txid, "level 1 to hold every commit");
    }
}
