using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Litestream.Ltx;

namespace Litestream.Aot.Tests.Cli;

/// <summary>
/// The daemon's event stream (<c>GET /events</c>, <c>litestream events</c>) and <c>litestream lag</c> on the published
/// exe, with real SQLite writers in other processes (issue 24 items 2 and 3).
/// </summary>
[Requires(Need.Python)]
public sealed partial class EventsTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly TimeSpan Ttl = TimeSpan.FromSeconds(3);

    /// <summary>
    /// init first (the TXID the replica holds), then one tx per transaction the replica received, with its TXID, its
    /// LTX file's size on the replica and its capture time; the text form says the same; a malformed request gets one
    /// 400; SIGTERM ends a subscriber with 0, the daemon stopping ends one with an error.
    /// </summary>
    [RequiresFact(Need.Exe)]
    public void Events_InitThenTxForEveryUpload_MatchTheReplica()
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db"), replica = Path.Combine(dir, "replica");
        SqliteWriter.Write(db, 3);
        using var daemon = Replicator.ToUrl(db, "file://" + replica);
        daemon.CaughtUp();
        ulong start = ControlSocketTests.ReplicaMaxTxid(replica);
        using BackgroundProcess json = Exe.Start("events", "-json", "-socket", daemon.Socket);
        using BackgroundProcess text = Exe.Start("events", "-db", db, "-socket", daemon.Socket);
        Wait.Until(() => json.Output.Contains("\"type\":\"init\"", StringComparison.Ordinal) && text.Output.StartsWith("init ", StringComparison.Ordinal), "both subscribers' init", json);

        for (int i = 0; i < 3; i++)
        {
            SqliteWriter.Write(db, 2, start: 3 + (2 * i));
            daemon.CaughtUp();
        }
        ulong end = ControlSocketTests.ReplicaMaxTxid(replica);
        Assert.True(end >= start + 3, $"txids {start}..{end}");
        Wait.Until(() => Lines(json).Length == 1 + (int)(end - start), $"tx events up to txid {end}", json);
        Wait.Until(() => text.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length == 1 + (int)(end - start), $"text lines up to txid {end}", text);

        string[] lines = Lines(json);
        string[] texts = text.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal($"{{\"type\":\"init\",\"db\":\"{db}\",\"data\":{{\"txID\":\"{new Txid(start)}\",\"isPrimary\":true}}}}", lines[0]);
        Assert.Equal($"init {db} txid={new Txid(start)} primary=true", texts[0]);
        for (ulong txid = start + 1; txid <= end; txid++)
        {
            string file = L0File(replica, txid);
            string at = FormatTime(CapturedAt(replica, txid));
            long size = new FileInfo(file).Length;
            int k = (int)(txid - start);
            Assert.Equal($"{{\"type\":\"tx\",\"db\":\"{db}\",\"data\":{{\"txID\":\"{new Txid(txid)}\",\"timestamp\":\"{at}\",\"size\":{size}}}}}", lines[k]);
            Assert.Equal($"tx {db} txid={new Txid(txid)} timestamp={at} size={size}", texts[k]);
        }

        // Malformed or unknown: one answer each, the stream not started.
        Assert.Equal("""{"error":"unknown parameter in /events: only db=PATH is accepted"}""", ControlSocketTests.Curl(daemon.Socket, "GET", "/events?since=5", null));
        Assert.Equal($"{{\"error\":\"database not found: {dir}/nope.db\"}}", ControlSocketTests.Curl(daemon.Socket, "GET", $"/events?db={Uri.EscapeDataString(dir + "/nope.db")}", null));
        Assert.Equal("""{"error":"method not allowed"}""", ControlSocketTests.Curl(daemon.Socket, "POST", "/events", "{}"));
        ProcessResult unknown = Exe.Run("events", "-socket", daemon.Socket, "-db", dir + "/nope.db");
        Assert.Equal((1, $"error: events failed: database not found: {dir}/nope.db\nhint: 'litestream list' shows the databases the daemon knows; 'litestream register' adds one\n"), (unknown.ExitCode, unknown.Stderr));

        Assert.Equal(0, text.Stop());
        Assert.Equal(0, daemon.Stop());
        Assert.Equal(1, json.WaitForExit(TimeSpan.FromMinutes(2)));
        Assert.EndsWith($"error: events failed: the daemon at {daemon.Socket} ended the stream (it stopped, or dropped this subscriber)\n"
            + "hint: check the daemon's log, then run 'litestream events' again\n", json.Output.Replace("\r", ""), StringComparison.Ordinal);
        Assert.Equal(1 + (int)(end - start), Lines(json).Length); // nothing but init and the tx lines
        ProcessResult gone = Exe.Run("events", "-socket", daemon.Socket);
        Assert.Equal(1, gone.ExitCode);
        Assert.StartsWith($"error: failed to connect to control socket {daemon.Socket}: ", gone.Stderr, StringComparison.Ordinal);
    }

    /// <summary>
    /// Two daemons on one replica with a lease: the holder's stream says it is primary (host, pid, generation 1), the
    /// waiter's that it is not; the holder frozen past its TTL (SIGSTOP), the waiter takes over (primaryChange,
    /// generation 2), and the holder, thawed, finds it lost the lease (primaryChange, not primary) and stops.
    /// </summary>
    [RequiresFact(Need.Exe)]
    public void Events_LeaseTakeover_PrimaryChangeOnBothDaemons()
    {
        string dir = TestRepo.TempDir();
        string replica = Path.Combine(dir, "replica");
        string dbA = Path.Combine(dir, "a", "app.db"), dbB = Path.Combine(dir, "b", "app.db");
        Directory.CreateDirectory(Path.GetDirectoryName(dbA)!);
        Directory.CreateDirectory(Path.GetDirectoryName(dbB)!);
        SqliteWriter.Write(dbA, 5);
        SqliteWriter.Write(dbB, 7);
        (string configA, string sockA) = LeaseConfig(dir, dbA, replica);
        (string configB, string sockB) = LeaseConfig(dir, dbB, replica);
        using BackgroundProcess first = Exe.Start("replicate", "-config", configA);
        Wait.Until(() => File.Exists(Path.Combine(replica, "ltx", "0", "0000000000000001-0000000000000001.ltx")), "the first upload", first);
        using BackgroundProcess eventsA = Exe.Start("events", "-json", "-socket", sockA);
        Wait.Until(() => Lines(eventsA).Length >= 1, "the holder's init", eventsA);
        Assert.Equal($"{{\"type\":\"init\",\"db\":\"{dbA}\",\"data\":{{\"txID\":\"0000000000000001\",\"isPrimary\":true,\"hostname\":\"{Environment.MachineName}\",\"pid\":{first.Pid},\"generation\":1}}}}", Lines(eventsA)[0]);

        using BackgroundProcess second = Exe.Start("replicate", "-config", configB, "-lease-wait", "1m");
        Wait.Until(() => second.Output.Contains("waiting up to 1m0s", StringComparison.Ordinal), "the second replicate to wait for the lease", second);
        using BackgroundProcess eventsB = Exe.Start("events", "-json", "-socket", sockB);
        Wait.Until(() => Lines(eventsB).Length >= 1, "the waiter's init", eventsB);
        Assert.Equal($"{{\"type\":\"init\",\"db\":\"{dbB}\",\"data\":{{\"txID\":\"0000000000000000\",\"isPrimary\":false}}}}", Lines(eventsB)[0]);

        FreezeOutsideLeaseWrite(first.Pid, Path.Combine(replica, "lease.json.lock"));
        var frozen = Stopwatch.StartNew();
        try
        {
            Wait.Until(() => Lines(eventsB).Any(l => l.Contains("\"primaryChange\"", StringComparison.Ordinal)), "the waiter's primaryChange", eventsB);
            output.WriteLine($"taken over {frozen.Elapsed.TotalSeconds:0.00} s after the holder froze (ttl {Ttl.TotalSeconds} s)");
        }
        finally
        {
            Signal("CONT", first.Pid);
        }
        Assert.Equal($"{{\"type\":\"primaryChange\",\"db\":\"{dbB}\",\"data\":{{\"isPrimary\":true,\"hostname\":\"{Environment.MachineName}\",\"pid\":{second.Pid},\"generation\":2}}}}",
            Lines(eventsB).Single(l => l.Contains("\"primaryChange\"", StringComparison.Ordinal)));

        // The thawed holder's next renewal fails: it says so on its stream, then the daemon ends (a config database lost).
        Assert.NotEqual(0, first.WaitForExit(TimeSpan.FromMinutes(1)) ?? 0);
        Assert.Equal(1, eventsA.WaitForExit(TimeSpan.FromMinutes(2)));
        string[] changes = [.. Lines(eventsA).Where(l => l.Contains("\"primaryChange\"", StringComparison.Ordinal))];
        Assert.True(changes.Length == 1, $"events:\n{eventsA.Output}\nholder:\n{first.Output}");
        string lost = changes[0];
        Match m = LostLine().Match(lost);
        Assert.True(m.Success, lost);
        Assert.Equal((dbA, Environment.MachineName, first.Pid.ToString(CultureInfo.InvariantCulture), "1"), (m.Groups[1].Value, m.Groups[2].Value, m.Groups[3].Value, m.Groups[4].Value));
        Assert.Contains("lease", m.Groups[5].Value, StringComparison.Ordinal);
        Assert.Equal(0, second.Stop());
    }

    /// <summary>
    /// Subscribers that never read hold no one up: with the most the daemon allows connected (one more is refused with
    /// 503), a writer keeps committing, and sync -wait still answers with the replica holding everything.
    /// </summary>
    [RequiresFact(Need.Exe)]
    public void Events_SubscribersThatDoNotRead_DoNotBlockSyncWait_AndAreBounded()
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db"), replica = Path.Combine(dir, "replica");
        SqliteWriter.Write(db, 1);
        using var daemon = Replicator.ToUrl(db, "file://" + replica);
        daemon.CaughtUp();
        var idle = new List<Socket>();
        try
        {
            for (int i = 0; i < 32; i++)
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { ReceiveBufferSize = 1024 };
                socket.Connect(new UnixDomainSocketEndPoint(daemon.Socket));
                socket.Send(Encoding.ASCII.GetBytes("GET /events HTTP/1.1\r\nHost: localhost\r\n\r\n"));
                idle.Add(socket);
            }
            Wait.Until(() => ControlSocketTests.Curl(daemon.Socket, "GET", "/events", null) == """{"error":"too many event subscribers (at most 32)"}""", "the 33rd subscriber to be refused", daemon.Process);
            using BackgroundProcess writer = SqliteWriter.Start(db, new Workload { Seconds = 6, Start = 1, Pad = 3000 });
            var timer = Stopwatch.StartNew();
            while (!writer.HasExited)
            {
                ProcessResult sync = Exe.Run("sync", "-wait", "-timeout", "120", "-socket", daemon.Socket, db);
                Assert.True(sync.ExitCode == 0, sync.Stderr);
            }
            writer.WaitForSuccess(TimeSpan.FromMinutes(1));
            daemon.CaughtUp();
            output.WriteLine($"writer and sync -wait done in {timer.Elapsed.TotalSeconds:0.0} s with 32 subscribers not reading");
        }
        finally
        {
            idle.ForEach(s => s.Dispose());
        }
        Assert.Equal(0, daemon.Stop());
        string restored = Path.Combine(dir, "restored.db");
        Assert.Equal(0, Exe.Run("restore", "-o", restored, "file://" + replica).ExitCode);
        Assert.Equal(SqliteWriter.Dump(db), SqliteWriter.Dump(restored));
    }

    /// <summary>
    /// lag on a follower copy: behind by exactly the transactions uploaded since it stopped, with the capture-time
    /// difference of the two TXIDs' LTX headers; 0 and 0 once a follower caught up again.
    /// </summary>
    [RequiresFact(Need.Exe)]
    public void Lag_FollowerBehindThenCaughtUp_ExactTxids()
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db"), replica = Path.Combine(dir, "replica"), copy = Path.Combine(dir, "copy.db");
        string url = "file://" + replica;
        SqliteWriter.Write(db, 3);
        using var daemon = Replicator.ToUrl(db, url);
        daemon.CaughtUp();
        ulong applied = ControlSocketTests.ReplicaMaxTxid(replica);
        using (BackgroundProcess follower = Exe.Start("restore", "-f", "-follow-interval", "100ms", "-o", copy, url))
        {
            Wait.Until(() => File.Exists(copy + "-txid") && File.ReadAllText(copy + "-txid").Trim() == new Txid(applied).ToString(), "the follower's first restore", follower);
            Assert.Equal(0, follower.Stop());
        }
        for (int i = 0; i < 2; i++)
        {
            SqliteWriter.Write(db, 2, start: 3 + (2 * i));
            daemon.CaughtUp();
        }
        ulong head = ControlSocketTests.ReplicaMaxTxid(replica);
        Assert.True(head >= applied + 2, $"{applied}..{head}");

        ProcessResult behind = Exe.Run("lag", "-json", "-o", copy, url);
        Assert.True(behind.ExitCode == 0, behind.Stderr);
        DateTimeOffset appliedAt = CapturedAt(replica, applied), headAt = CapturedAt(replica, head);
        string seconds = Math.Round((headAt - appliedAt).TotalSeconds, 3).ToString(CultureInfo.InvariantCulture);
        Assert.Equal($"{{\n  \"path\": \"{copy}\",\n  \"replica\": \"{url}\",\n  \"applied_txid\": \"{new Txid(applied)}\",\n  \"head_txid\": \"{new Txid(head)}\",\n"
            + $"  \"behind_txids\": {head - applied},\n  \"lag_seconds\": {seconds},\n  \"applied_at\": \"{FormatTime(appliedAt)}\",\n  \"head_at\": \"{FormatTime(headAt)}\"\n}}\n", behind.Stdout);
        Assert.Equal($"path: {copy}\nreplica: {url}\napplied_txid: {new Txid(applied)}\nhead_txid: {new Txid(head)}\nbehind_txids: {head - applied}\nlag_seconds: {seconds}\n",
            Exe.Run("lag", "-o", copy, url).Stdout);

        // Following again with -json: the daemon's event lines for what the follower applies.
        using (BackgroundProcess follower = Exe.Start("restore", "-f", "-json", "-follow-interval", "100ms", "-o", copy, url))
        {
            ProcessResult caughtUp = Wait.For(() => Exe.Run("lag", "-json", "-o", copy, url) is { ExitCode: 0 } r && r.Stdout.Contains("\"behind_txids\": 0,", StringComparison.Ordinal) ? r : null, "the follower to catch up", follower);
            Assert.Contains($"  \"applied_txid\": \"{new Txid(head)}\",\n  \"head_txid\": \"{new Txid(head)}\",\n  \"behind_txids\": 0,\n  \"lag_seconds\": 0,\n", caughtUp.Stdout, StringComparison.Ordinal);
            Assert.Equal(0, follower.Stop());
            string[] expected = [
                $"{{\"type\":\"init\",\"db\":\"{copy}\",\"data\":{{\"txID\":\"{new Txid(applied)}\",\"isPrimary\":false}}}}",
                .. Enumerable.Range(1, (int)(head - applied)).Select(k => applied + (ulong)k).Select(t =>
                    $"{{\"type\":\"tx\",\"db\":\"{copy}\",\"data\":{{\"txID\":\"{new Txid(t)}\",\"timestamp\":\"{FormatTime(CapturedAt(replica, t))}\",\"size\":{new FileInfo(L0File(replica, t)).Length}}}}}")];
            Assert.Equal(expected, Lines(follower));
        }
        Assert.Equal(SqliteWriter.Dump(db), SqliteWriter.Dump(copy));

        ProcessResult none = Exe.Run("lag", "-o", db, url);
        Assert.Equal((1, $"error: {db} has no follower position ({db}-txid does not exist): it is not a copy 'restore -f' keeps current\n"), (none.ExitCode, none.Stderr));
        ProcessResult noCopy = Exe.Run("lag", url);
        Assert.NotEqual(0, noCopy.ExitCode);
        Assert.StartsWith("error: the follower copy is required with a replica URL\nhint: add -o PATH", noCopy.Stderr, StringComparison.Ordinal);
        Assert.Equal(0, daemon.Stop());
    }

    /// <summary>The JSON lines a subscriber printed so far.</summary>
    private static string[] Lines(BackgroundProcess events)
        => [.. events.Output.Split('\n').Where(l => l.StartsWith('{'))];

    private static DateTimeOffset CapturedAt(string replica, ulong txid)
        => LtxHeader.Read(File.ReadAllBytes(L0File(replica, txid)).AsSpan(0, LtxHeader.Size)).CreatedAt;

    private static string L0File(string replica, ulong txid) => Path.Combine(replica, "ltx", "0", $"{new Txid(txid)}-{new Txid(txid)}.ltx");

    /// <summary>Go's RFC 3339 with trailing fractional zeros trimmed, as the daemon writes times.</summary>
    private static string FormatTime(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", CultureInfo.InvariantCulture);

    private static (string Config, string Socket) LeaseConfig(string dir, string db, string replica)
    {
        string name = Guid.NewGuid().ToString("N")[..8];
        string config = Path.Combine(dir, $"litestream-{name}.yml"), sock = Path.Combine(dir, $"ls-{name}.sock");
        File.WriteAllText(config, $"shutdown-sync-timeout: 10s\nsocket: {{enabled: true, path: {sock}}}\ndbs:\n  - path: {db}\n    lease:\n      enabled: true\n      ttl: {Ttl.TotalSeconds}s\n    replica:\n      url: file://{replica}\n");
        return (config, sock);
    }

    /// <summary>
    /// SIGSTOPs the holder between renewals. Frozen inside its few-millisecond compare-and-rename it would keep the
    /// flock on <c>lease.json.lock</c> until thawed, so no one could take over (on a busy machine that window is
    /// wide enough to hit): thaw and try again until /proc/locks shows it froze without the lock.
    /// </summary>
    private static void FreezeOutsideLeaseWrite(int pid, string lockFile)
    {
        string inode = Processes.Run("stat", ["-c", "%i", lockFile]).Stdout.Trim();
        for (int attempt = 1; ; attempt++)
        {
            Signal("STOP", pid);
            bool holdsLock = File.ReadLines("/proc/locks").Any(line =>
            {
                string[] f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return f.Length > 5 && f[1] == "FLOCK" && f[4] == pid.ToString(CultureInfo.InvariantCulture) && f[5].EndsWith(":" + inode, StringComparison.Ordinal);
            });
            if (!holdsLock)
            {
                return;
            }
            Assert.True(attempt < 50, "the holder was frozen holding lease.json.lock 50 times");
            Signal("CONT", pid);
            Thread.Sleep(TimeSpan.FromMilliseconds(50)); // let it finish its write before the next try
        }
    }

    private static void Signal(string signal, int pid)
    {
        ProcessResult r = Processes.Run("kill", [$"-{signal}", pid.ToString(CultureInfo.InvariantCulture)]);
        Assert.True(r.ExitCode == 0, r.Output);
    }

    [GeneratedRegex("""^\{"type":"primaryChange","db":"([^"]+)","data":\{"isPrimary":false,"hostname":"([^"]+)","pid":(\d+),"generation":(\d+),"message":"([^"]+)"\}\}$""")]
    private static partial Regex LostLine();
}
