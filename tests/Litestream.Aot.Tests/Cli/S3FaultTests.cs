using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Litestream.Aot.Tests.Cli;

/// <summary>
/// The published exe replicating to s3rver through the fault proxy while a writer process commits and logs
/// every committed id: 500s, throttling (503 SlowDown), dropped connections and slow bodies in turn. Each
/// fault lasts until the replicator has reported it (an ERROR naming the bucket and key, never a secret, and
/// <c>status</c> showing it); after it clears the replicator says it recovered and <c>status</c> is clean. At the end a restore has every committed id and passes
/// integrity_check.
/// </summary>
[Requires(Need.Python)]
public class S3FaultTests
{
    private static readonly FaultProxy.Fault[] s_faults =
        [FaultProxy.Fault.InternalError, FaultProxy.Fault.SlowDown, FaultProxy.Fault.Drop, FaultProxy.Fault.SlowBody];

    [RequiresFact(Need.Exe, Need.S3rver)]
    public void Replicate_ThroughS3Faults_ReportsRetriesResumesAndLosesNoCommittedTransaction()
    {
        using var run = new WriterRun("faults", env: null);
        (FaultProxy proxy, string db, string config, BackgroundProcess replicate) = (run.Proxy, run.Db, run.Config, run.Replicate);

        int recoveries = 0;
        foreach (FaultProxy.Fault fault in s_faults)
        {
            int errorsBefore = Count(replicate.Output, "level=ERROR");
            proxy.Inject(fault);
            if (fault == FaultProxy.Fault.SlowBody)
            {
                // Slow bodies are no error: uploads still go through while every response trickles back.
                int before = proxy.Faults;
                Wait.Until(() => proxy.Faults >= before + 5, "five slow responses", replicate);
                proxy.Inject(null);
                continue;
            }
            Wait.Until(() => Count(replicate.Output, "level=ERROR") > errorsBefore, $"the {fault} fault to be logged", replicate);
            ProcessResult failing = Exe.Run("status", "-config", config);
            Assert.Matches($@"(?m)^{Regex.Escape(db)}: upload failing since \S+ \(\d+ attempts\): replica s3://{S3rver.Bucket}/faults: ", failing.Stdout);
            proxy.Inject(null);
            recoveries++;
            Wait.Until(() => Count(replicate.Output, "recovered after") >= recoveries, $"the uploads to recover from {fault}", replicate);
            ProcessResult healthy = Exe.Run("status", "-config", config);
            Assert.DoesNotContain("error", healthy.Stdout);
        }

        run.StopAndCheckNothingLost();
        string output = replicate.Output;
        foreach (string line in output.Split('\n').Where(l => l.Contains("level=ERROR", StringComparison.Ordinal)))
        {
            Assert.Contains($"s3://{S3rver.Bucket}/faults", line);
        }
        Assert.Contains("InternalError (HTTP 500)", output);
        Assert.Contains("SlowDown (HTTP 503)", output);
        Assert.True(proxy.Faults >= 8, $"only {proxy.Faults} faults injected");
    }

    /// <summary>
    /// The server stops answering (it accepts and reads, then sends nothing and never closes) while a writer
    /// commits. With the stall limits at 12 s: <c>status</c> stops saying ok once a local file has waited longer
    /// than the sync interval allows ("behind since"), an ERROR naming the replica, the operation and the stall
    /// comes within one limit, <c>status</c> then shows the failure and since when, and after the server heals
    /// everything committed reaches the replica and restores.
    /// </summary>
    [RequiresFact(Need.Exe, Need.S3rver)]
    public void Replicate_ServerStalls_StatusLeavesOk_ErrorWithinOneTimeout_ThenCatchesUpLosingNothing()
        => StallThenHeal(limitSeconds: 12, stalledErrors: 2, stallFor: TimeSpan.Zero);

    /// <summary>
    /// Long mode (tests/long.sh): the default limits (a minute) and a stall of minutes
    /// (<c>LITESTREAM_STALL_SECONDS</c>, 300 by default) under a writer; nothing committed is lost.
    /// </summary>
    [RequiresFact(Need.Exe, Need.S3rver, Need.LongMode)]
    public void Replicate_ServerStallsForMinutes_Long_ReportedThroughout_ThenCatchesUpLosingNothing()
        => StallThenHeal(limitSeconds: null, stalledErrors: 1,
            stallFor: TimeSpan.FromSeconds(int.TryParse(Environment.GetEnvironmentVariable("LITESTREAM_STALL_SECONDS"), out int s) ? s : 300));

    /// <summary>
    /// Replicates through a server that stalls every request until it has caused <paramref name="stalledErrors"/>
    /// ERRORs and <paramref name="stallFor"/> has passed, sampling <c>status</c> all along, then heals it.
    /// <paramref name="limitSeconds"/> sets the response and idle limits (null: the defaults, 60 s).
    /// </summary>
    private static void StallThenHeal(int? limitSeconds, int stalledErrors, TimeSpan stallFor)
    {
        int limit = limitSeconds ?? 60;
        var limits = limitSeconds is null ? null : new Dictionary<string, string>
        {
            ["LITESTREAM_STORAGE_CONNECT_TIMEOUT"] = "2s",
            ["LITESTREAM_STORAGE_RESPONSE_TIMEOUT"] = $"{limit}s",
            ["LITESTREAM_STORAGE_IDLE_TIMEOUT"] = $"{limit}s",
        };
        using var run = new WriterRun("stall", limits);
        (FaultProxy proxy, string db, string config, BackgroundProcess replicate) = (run.Proxy, run.Db, run.Config, run.Replicate);
        Wait.Until(() => Status(config, db) == "ok", "status ok", replicate);

        int errorsBefore = Count(replicate.Output, "level=ERROR");
        proxy.Inject(FaultProxy.Fault.StallAtConnect);
        var stalled = Stopwatch.StartNew();
        var seen = new List<string>();
        TimeSpan? firstError = null;
        while (Count(replicate.Output, "level=ERROR") < errorsBefore + stalledErrors || stalled.Elapsed < stallFor)
        {
            Assert.False(replicate.HasExited, $"replicate exited: {replicate.Output}");
            Assert.True(firstError is not null || stalled.Elapsed < TimeSpan.FromSeconds(limit + 30),
                $"no error within {limit + 30} s of the stall (statuses {string.Join(",", seen)}):\n{replicate.Output}");
            Assert.True(stalled.Elapsed < stallFor + TimeSpan.FromSeconds(10 * limit), $"stalled errors never came:\n{replicate.Output}");
            if (firstError is null && Count(replicate.Output, "level=ERROR") > errorsBefore)
            {
                firstError = stalled.Elapsed;
                ProcessResult failing = Exe.Run("status", "-config", config);
                Assert.Matches($@"(?m)^{Regex.Escape(db)}: upload failing since \S+ \(\d+ attempts\): replica s3://{S3rver.Bucket}/stall: s3: .*: stalled: ", failing.Stdout);
            }
            seen.Add(Status(config, db));
            Thread.Sleep(300); // the sampling period of status, not a wait for something
        }
        // A stalled upload is no longer "ok" once a file waited the sync interval (1 s) + 5 s, long before the
        // limit fails it; the first seconds may still be ok (the replica was current when the stall began).
        int behind = seen.IndexOf("behind");
        Assert.True(behind >= 0, $"status never said behind: {string.Join(",", seen)}");
        Assert.DoesNotContain("ok", seen.Skip(behind));
        Assert.Contains("error", seen.Skip(behind));
        // One limit after the first stalled request, which starts within a monitor interval of the stall.
        Assert.True(firstError < TimeSpan.FromSeconds(limit + 6), $"first error after {firstError}:\n{replicate.Output}");
        string error = replicate.Output.Split('\n').Where(l => l.Contains("level=ERROR", StringComparison.Ordinal)).Skip(errorsBefore).First();
        Assert.Matches($@"replica s3://{S3rver.Bucket}/stall .*: s3: (put object|list) s3://{S3rver.Bucket}/stall/\S+: stalled: no response( after the request body)? for {(limit >= 60 ? $"{limit / 60}m{limit % 60}s" : $"{limit}s")}", error);

        proxy.Inject(null);
        Wait.Until(() => replicate.Output.Contains("recovered after", StringComparison.Ordinal), "the uploads to recover", replicate, TimeSpan.FromMinutes(6));
        Wait.Until(() => Status(config, db) == "ok", "status ok", replicate);

        run.StopAndCheckNothingLost();
        Assert.True(proxy.Stalled >= stalledErrors, $"only {proxy.Stalled} requests stalled");
    }

    /// <summary>The status column of <paramref name="db"/>'s row in <c>litestream status</c>.</summary>
    private static string Status(string config, string db)
    {
        ProcessResult status = Exe.Run("status", "-config", config);
        string row = status.Stdout.Split('\n').First(l => l.StartsWith(db + " ", StringComparison.Ordinal));
        return Regex.Match(row[db.Length..], @"^\s+(not initialized|no database|\S+)").Groups[1].Value;
    }

    private static int Count(string text, string what)
    {
        int n = 0;
        for (int i = text.IndexOf(what, StringComparison.Ordinal); i >= 0; i = text.IndexOf(what, i + what.Length, StringComparison.Ordinal))
        {
            n++;
        }
        return n;
    }

    /// <summary>
    /// s3rver behind the fault proxy, a writer committing and logging ids, and <c>replicate</c> (with
    /// <c>env</c>) shipping the database to <c>replicaPath</c> in the bucket; ready once the first snapshot is out.
    /// </summary>
    private sealed class WriterRun : IDisposable
    {
        private readonly S3rver _s3 = new();
        private readonly string _dir = TestRepo.TempDir();
        private readonly BackgroundProcess _writer;

        public WriterRun(string replicaPath, IDictionary<string, string>? env)
        {
            Proxy = new FaultProxy(_s3.Port);
            Db = Path.Combine(_dir, "app.db");
            Config = Path.Combine(_dir, "litestream.yml");
            File.WriteAllText(Config, S3rver.Config(Db, replicaPath, Proxy.Endpoint, S3rver.Credential, S3rver.Credential));
            // Commits until the stop file appears, each id logged once COMMIT returned.
            _writer = SqliteWriter.Start(Db, new Workload { StopFile = Stop, Log = Ids, Pad = 1500, Pause = 0.01, BusyTimeoutMs = 10_000 });
            Replicate = Exe.Start(env, "replicate", "-config", Config);
            Wait.Until(() => Replicate.Output.Contains("snapshot", StringComparison.Ordinal), "the first snapshot", Replicate);
        }

        public FaultProxy Proxy { get; }
        public string Db { get; }
        public string Config { get; }
        public BackgroundProcess Replicate { get; }
        private string Ids => Path.Combine(_dir, "committed.txt");
        private string Stop => Path.Combine(_dir, "stop");

        /// <summary>Stops the writer, then replicate (exit 0, no credential logged); a restore holds every committed id.</summary>
        public void StopAndCheckNothingLost()
        {
            File.WriteAllText(Stop, "");
            _writer.WaitForSuccess(TimeSpan.FromMinutes(2));
            Assert.Equal(0, Replicate.Stop()); // its final sync uploads the last commits
            Assert.DoesNotContain(S3rver.Credential, Replicate.Output);

            string restored = Path.Combine(_dir, "restored.db");
            ProcessResult r = Exe.Run("restore", "-config", Config, "-o", restored, Db);
            Assert.True(r.ExitCode == 0, r.Stderr);
            string[] check = SqliteWriter.Check(restored, Ids); // integrity, top id, gaps, lost, logged
            Assert.True(int.Parse(check[4]) > 100, $"too few transactions committed during the run: {string.Join(' ', check)}");
            Assert.Equal(("ok", "0", "0"), (check[0], check[2], check[3]));
        }

        public void Dispose()
        {
            Replicate.Dispose();
            _writer.Dispose();
            Proxy.DisposeAsync().AsTask().GetAwaiter().GetResult();
            _s3.Dispose();
        }
    }
}
