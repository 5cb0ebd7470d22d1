using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Litestream.Aot.Tests.Cli;

/// <summary>
/// <c>addr</c> on the published exe: <c>/metrics</c> with upstream's names checked by promtool and scraped by a real
/// Prometheus while a writer process commits, <c>/healthz</c> and <c>/debug/sync-status</c>, and the listener under
/// bad input: hostile requests, slow headers, 200 connections at once, a port in use, secrets in the replica URL.
/// </summary>
[Requires(Need.Exe, Need.Python)]
public class MonitoringTests
{
    // promtool's lint complaints about upstream's own metric names, which are kept exactly (dashboards and alerts
    // written for upstream query them): counters without _total, counters named _count. Anything else fails.
    private static readonly string[] s_upstreamLint =
    [
        "litestream_sync_count counter metrics should have \"_total\" suffix",
        "litestream_sync_count non-histogram and non-summary metrics should not have \"_count\" suffix",
        "litestream_sync_error_count counter metrics should have \"_total\" suffix",
        "litestream_sync_error_count non-histogram and non-summary metrics should not have \"_count\" suffix",
        "litestream_sync_seconds counter metrics should have \"_total\" suffix",
        "litestream_total_wal_bytes counter metrics should have \"_total\" suffix",
        "litestream_checkpoint_count counter metrics should have \"_total\" suffix",
        "litestream_checkpoint_count non-histogram and non-summary metrics should not have \"_count\" suffix",
        "litestream_checkpoint_error_count counter metrics should have \"_total\" suffix",
        "litestream_checkpoint_error_count non-histogram and non-summary metrics should not have \"_count\" suffix",
        "litestream_checkpoint_seconds counter metrics should have \"_total\" suffix",
        "litestream_compaction_verify_error_count counter metrics should have \"_total\" suffix",
        "litestream_compaction_verify_error_count non-histogram and non-summary metrics should not have \"_count\" suffix",
        "litestream_replica_operation_bytes counter metrics should have \"_total\" suffix",
    ];

    [RequiresFact(Need.Prometheus)]
    public void Addr_ScrapedByPrometheus_QueriesBackTheTxidWhileAWriterCommits()
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db"), replica = Path.Combine(dir, "replica"), stop = Path.Combine(dir, "stop");
        SqliteWriter.Write(db, 1);
        int port = LocalServer.FreePort();
        string config = Path.Combine(dir, "c.yml");
        File.WriteAllText(config, $"addr: 127.0.0.1:{port}\ndbs:\n  - path: {db}\n    monitor-interval: 100ms\n    replica:\n      url: file://{replica}\n      sync-interval: 100ms\n");
        using BackgroundProcess daemon = Exe.Start("replicate", "-config", config);
        string scrape = Wait.For(() => Get(port, "/metrics") is { Status: 200 } r && r.Body.Contains($"litestream_txid{{db=\"{db}\"}}") ? r.Body : null, "the first sync in /metrics", daemon);
        Assert.Contains($"serving metrics on http://127.0.0.1:{port}/metrics", daemon.Output);
        AssertPromtoolAccepts(scrape);

        // One commit every 50 ms until the stop file (at most two minutes).
        using BackgroundProcess writer = SqliteWriter.Start(db, new Workload { StopFile = stop, Seconds = 120, Pause = 0.05 });
        try
        {
            using var prometheus = new Prometheus($"127.0.0.1:{port}");
            string selector = $"{{db=\"{db}\"}}";
            // While the writer commits, Prometheus sees the database's TXID move, scrape after scrape.
            Wait.Until(() => prometheus.Query($"changes(litestream_txid{selector}[1m])") is [{ Value: >= 3 }], "Prometheus to see the TXID move 3 times", daemon);
            Assert.Equal(1, prometheus.Query("up{job=\"litestream\"}").Single().Value);
            Assert.True(prometheus.Query("litestream_replica_operation_total{replica_type=\"file\",operation=\"PUT\"}").Single().Value >= 3);
            Assert.True(prometheus.Query($"litestream_sync_count{selector}").Single().Value >= 3);
            Assert.True(prometheus.Query("litestream_replica_operation_duration_seconds_count{replica_type=\"file\",operation=\"PUT\"}").Single().Value >= 3);

            // Writer stopped: once everything is on the replica, the TXID Prometheus holds is the database's, and the
            // replica's TXID series says the same.
            File.WriteAllText(stop, "");
            Assert.True(writer.WaitForExit(TimeSpan.FromMinutes(2)) == 0, $"the writer did not stop: {writer.Output}");
            Wait.For(() =>
            {
                using JsonDocument status = JsonDocument.Parse(Get(port, "/debug/sync-status").Body);
                JsonElement entry = status.RootElement.GetProperty("databases")[0];
                if (!entry.GetProperty("in_sync").GetBoolean())
                {
                    return null;
                }
                double local = Convert.ToUInt64(entry.GetProperty("local_txid").GetString(), 16);
                return prometheus.Query($"litestream_txid{selector}") is [{ Value: var txid }] && txid == local
                    && prometheus.Query($"litestream_replica_txid{selector}") is [{ Value: var remote }] && remote == local ? "" : null;
            }, "Prometheus to hold the final TXID of the database and of its replica", daemon);
            Assert.InRange(prometheus.Query($"litestream_replica_sync_age_seconds{selector}").Single().Value, 0, 30);
        }
        finally
        {
            File.WriteAllText(stop, ""); // a writer still running after a failure is killed on disposal
        }
        Assert.Equal(0, daemon.Stop());
    }

    [RequiresFact]
    public void Addr_HealthzAndSyncStatus_DescribeEachDatabase()
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db"), missing = Path.Combine(dir, "later.db");
        SqliteWriter.Write(db, 1);
        int port = LocalServer.FreePort();
        string config = Path.Combine(dir, "c.yml");
        File.WriteAllText(config, $"addr: ':{port}'\ndbs:\n  - path: {db}\n    replica: {{url: file://{dir}/r1}}\n  - path: {missing}\n    replica: {{url: file://{dir}/r2}}\n");
        using BackgroundProcess daemon = Exe.Start("replicate", "-config", config);
        // ":port" listens on every interface, as Go's ListenAndServe; the log names localhost.
        string status = Wait.For(() => Get(port, "/debug/sync-status") is { Status: 200 } r && r.Body.Contains("\"in_sync\": true") ? r.Body : null, "the database to reach its replica", daemon);
        // The log line is read from the daemon's output by a pump of its own, which can be behind the HTTP answer.
        Wait.For(() => daemon.Output.Contains($"serving metrics on http://localhost:{port}/metrics", StringComparison.Ordinal) ? "" : null, "the listener's log line", daemon);
        Assert.Matches(
            "^\\{\n  \"databases\": \\[\n    \\{\n" +
            $"      \"path\": \"{Regex.Escape(db)}\",\n      \"status\": \"replicating\",\n      \"local_txid\": \"(?<txid>[0-9a-f]{{16}})\",\n      \"replica_txid\": \"\\k<txid>\",\n      \"in_sync\": true,\n" +
            "      \"last_upload_at\": \"[0-9T:.Z-]+\",\n      \"upload_age_seconds\": [0-9.]+\n    \\},\n    \\{\n" +
            $"      \"path\": \"{Regex.Escape(missing)}\",\n      \"status\": \"waiting\",\n      \"local_txid\": \"0000000000000000\",\n      \"in_sync\": false\n    \\}}\n  \\]\n\\}}\n$",
            status);
        Assert.Equal((200, "{\n  \"status\": \"ok\"\n}\n"), (Get(port, "/healthz").Status, Get(port, "/healthz").Body));
        Assert.Equal((404, "404 page not found\n"), (Get(port, "/nope").Status, Get(port, "/nope").Body));
        Assert.Equal("405 Method Not Allowed", StatusLine(Raw(port, "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n")));
        Assert.Equal(0, daemon.Stop());
    }

    /// <summary>
    /// An S3 replica whose endpoint refuses connections, with a secret key in the config: /healthz says 503 and why,
    /// the error metrics count the failures, and no answer carries the secret.
    /// </summary>
    [RequiresFact]
    public void Addr_FailingReplicaWithSecret_Healthz503AndNothingLeaksTheSecret()
    {
        const string secret = "s3cr3t/Key+With=Odd?Chars";
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        SqliteWriter.Write(db, 1);
        int port = LocalServer.FreePort(), closed = LocalServer.FreePort();
        string config = Path.Combine(dir, "c.yml");
        File.WriteAllText(config, $"""
            addr: 127.0.0.1:{port}
            shutdown-sync-timeout: 1s
            dbs:
              - path: {db}
                replica:
                  url: s3://bkt/app?endpoint=http://127.0.0.1:{closed}&forcePathStyle=true&region=us-east-1
                  access-key-id: AKIDEXAMPLE
                  secret-access-key: "{secret}"
                  sync-interval: 100ms

            """);
        using BackgroundProcess daemon = Exe.Start("replicate", "-config", config);
        string health = Wait.For(() => Get(port, "/healthz") is { Status: 503 } r ? r.Body : null, "/healthz to report the failing upload", daemon);
        Assert.Matches($"^\\{{\n  \"status\": \"error\",\n  \"databases\": \\[\n    \\{{\n      \"path\": \"{Regex.Escape(db)}\",\n      \"status\": \"error\",\n", health);
        Assert.Contains("failing since", health);
        string metrics = Wait.For(() => Get(port, "/metrics").Body is var m && m.Contains("litestream_replica_operation_errors_total{") ? m : null, "an error counted in /metrics", daemon);
        Assert.Matches("litestream_replica_operation_errors_total\\{code=\"[A-Za-z]+\",operation=\"LIST\",replica_type=\"s3\"\\} [1-9]", metrics);
        foreach (string answer in (string[])[health, metrics, Get(port, "/debug/sync-status").Body])
        {
            Assert.DoesNotContain(secret, answer);
            Assert.DoesNotContain(Uri.EscapeDataString(secret), answer);
        }
        daemon.Stop();
        Assert.DoesNotContain(secret, daemon.Output);
    }

    /// <summary>
    /// Hostile clients get their status and never stop the listener: an oversized head (431), malformed lines (400),
    /// a slowloris head (408 after 10 s), 200 connections at once (at most 64 served, the rest 503, then all served again).
    /// </summary>
    [RequiresFact]
    public void Addr_HostileClients_AnsweredAndTheListenerServesOn()
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        SqliteWriter.Write(db, 1);
        int port = LocalServer.FreePort();
        string config = Path.Combine(dir, "c.yml");
        File.WriteAllText(config, $"addr: 127.0.0.1:{port}\ndbs:\n  - path: {db}\n    replica: {{url: file://{dir}/r}}\n");
        using BackgroundProcess daemon = Exe.Start("replicate", "-config", config);
        Wait.Until(() => Get(port, "/healthz") is { Status: 200 }, "the listener", daemon);

        Task<string> slow = Task.Run(() => Raw(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n"));
        Assert.Equal("431 Request Header Fields Too Large", StatusLine(Raw(port, "GET /metrics HTTP/1.1\r\nX-Big: " + new string('a', 20_000) + "\r\n\r\n")));
        Assert.Equal("400 Bad Request", StatusLine(Raw(port, "HELLO\r\n\r\n")));
        Assert.Equal("400 Bad Request", StatusLine(Raw(port, "GET /metrics HTTP/1.1\r\n bad header\r\n\r\n")));
        Assert.Equal("413 Request Entity Too Large", StatusLine(Raw(port, "POST /metrics HTTP/1.1\r\nContent-Length: 10000000\r\n\r\n")));
        Assert.Equal(200, Get(port, "/metrics").Status);

        // 200 connections open at once, then each sends a whole request: every one is answered, 200 or 503, none hangs.
        var clients = new List<Socket>();
        try
        {
            for (int i = 0; i < 200; i++)
            {
                clients.Add(Connect(port));
            }
            clients.ForEach(c => c.Send("GET /healthz HTTP/1.1\r\n\r\n"u8));
            string[] answers = [.. clients.Select(c => StatusLine(ReadToEnd(c)))];
            Assert.All(answers, a => Assert.Contains(a, new[] { "200 OK", "503 Service Unavailable" }));
            Assert.Contains("200 OK", answers);
        }
        finally
        {
            clients.ForEach(c => c.Dispose());
        }
        // Idle connections past the cap: the next client is refused at once, and served again when they close.
        var idle = new List<Socket>();
        try
        {
            for (int i = 0; i < 200; i++)
            {
                idle.Add(Connect(port));
            }
            Assert.Equal("503 Service Unavailable", StatusLine(Raw(port, "GET /healthz HTTP/1.1\r\n\r\n")));
        }
        finally
        {
            idle.ForEach(s => s.Dispose());
        }
        Wait.Until(() => Get(port, "/healthz") is { Status: 200 }, "the listener to serve again", daemon);
        Assert.Equal("408 Request Timeout", StatusLine(slow.Result));
        Assert.Equal(0, daemon.Stop());
        Assert.DoesNotContain("level=ERROR", daemon.Output);
    }

    [RequiresFact]
    public void Addr_PortInUseOrNoPort_OneErrorLineAndNothingReplicated()
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        SqliteWriter.Write(db, 1);
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        int port = ((IPEndPoint)taken.LocalEndpoint).Port;
        foreach ((string addr, string error, string hint) in new[]
        {
            ($"127.0.0.1:{port}", $"error: cannot listen on addr 127.0.0.1:{port}: Address already in use", "hint: another process uses the port: stop it, or set another addr in the config"),
            ("127.0.0.1", "error: must specify port for bind address: \"127.0.0.1\"", "hint: set addr to host:port, e.g. 127.0.0.1:9090"),
            ("127.0.0.1:http", "error: invalid port in bind address: \"127.0.0.1:http\"", "hint: the port is a number from 0 to 65535"),
        })
        {
            string config = Path.Combine(dir, "c.yml");
            File.WriteAllText(config, $"addr: '{addr}'\ndbs:\n  - path: {db}\n    replica: {{url: file://{dir}/r}}\n");
            ProcessResult result = Exe.RunWithin(TimeSpan.FromMinutes(2), null, "replicate", "-config", config);
            Assert.Equal((1, $"{error}\n{hint}\n"), (result.ExitCode, result.Stderr[result.Stderr.IndexOf("error:", StringComparison.Ordinal)..]));
            Assert.False(Directory.Exists(Path.Combine(dir, "r")), "a database was replicated although the listener failed");
        }
    }

    /// <summary>While replicate runs, status and databases add the lag (0 when the replica holds everything), text and -json.</summary>
    [RequiresFact]
    public void StatusAndDatabases_WhileReplicating_ShowTheLag()
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        SqliteWriter.Write(db, 1);
        string config = Path.Combine(dir, "c.yml");
        File.WriteAllText(config, $"dbs:\n  - path: {db}\n    replica: {{url: file://{dir}/r}}\n");
        using BackgroundProcess daemon = Exe.Start("replicate", "-config", config);
        string json = Wait.For(() => Exe.Run("status", "-json", "-config", config).Stdout is var s && s.Contains("\"lag_seconds\": 0\n") && s.Contains("\"status\": \"ok\"") ? s : null, "status to report no lag once the replica holds everything", daemon);
        Assert.True(Regex.IsMatch(json, $"^\\[\n  {{\n    \"database\": \"{Regex.Escape(db)}\",\n    \"status\": \"ok\",\n    \"local_txid\": \"[0-9a-f]{{16}}\",\n    \"wal_size\": \"[^\"]+\",\n    \"lag_seconds\": 0\n  }}\n\\]\n$"), json); // the whole output on failure
        string[] status = Exe.Run("status", "-config", config).Stdout.TrimEnd().Split('\n');
        Assert.Matches("^database +status +local txid +wal size +lag$", status[0]);
        Assert.Matches($"^{Regex.Escape(db)} +ok +[0-9a-f]{{16}} +[0-9.]+ k?B +0s$", status[1]);
        string[] databases = Exe.Run("databases", "-config", config).Stdout.TrimEnd().Split('\n');
        Assert.Equal(($"{"path".PadRight(db.Length + 2)}{"replica".PadRight($"{dir}/r".Length + 2)}lag", $"{db}  {dir}/r  0s"), (databases[0], databases[1]));
        Assert.Contains("\"lag_seconds\": 0", Exe.Run("databases", "-json", "-config", config).Stdout);
        Assert.Equal(0, daemon.Stop());
    }

    /// <summary>validation.interval: the replica is restored and compared in the background; the result shows in /metrics and /debug/sync-status.</summary>
    [RequiresFact]
    public void ValidationInterval_ReplicaRestoresToTheDatabase_OkInMetricsAndSyncStatus()
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        SqliteWriter.Write(db, 1);
        int port = LocalServer.FreePort();
        string config = Path.Combine(dir, "c.yml");
        File.WriteAllText(config, $"addr: 127.0.0.1:{port}\nvalidation:\n  interval: 1s\ndbs:\n  - path: {db}\n    replica: {{url: file://{dir}/r}}\n");
        using BackgroundProcess daemon = Exe.Start("replicate", "-config", config);
        string metrics = Wait.For(() => Get(port, "/metrics").Body is var m && m.Contains("litestream_validation_ok{") ? m : null, "the first validation", daemon);
        Assert.Contains($"litestream_validation_ok{{db=\"{db}\"}} 1\n", metrics);
        Assert.Matches($"litestream_validation_total\\{{db=\"{Regex.Escape(db)}\",result=\"ok\"\\}} [1-9]", metrics);
        Assert.Matches("\"last_validation\": \"ok at [0-9T:.Z-]+ \\(txid [0-9a-f]{16}\\)\"", Get(port, "/debug/sync-status").Body);
        Assert.Contains("validation: replica file://", daemon.Output);
        Assert.Equal(0, daemon.Stop());
        Assert.Empty(Directory.GetFiles(Path.Combine(dir, ".app.db-litestream", "validation")));
    }

    /// <summary>
    /// heartbeat-url: a daemon whose databases replicate sends one GET within the first checks and no second one within
    /// the interval (1 min); a daemon with one failing replica sends none. The secret path of the URL is never logged.
    /// </summary>
    [RequiresFact]
    public void HeartbeatUrl_PingsOnlyWhileEveryDatabaseReplicates()
    {
        string dir = TestRepo.TempDir();
        string healthy = Path.Combine(dir, "healthy.db"), other = Path.Combine(dir, "other.db");
        SqliteWriter.Write(healthy, 1);
        SqliteWriter.Write(other, 1);
        using var server = new CountingHttpServer();
        int closed = LocalServer.FreePort();
        string good = Path.Combine(dir, "good.yml"), bad = Path.Combine(dir, "bad.yml");
        File.WriteAllText(good, $"heartbeat-url: {server.Url("/ping/good-0c5d")}\nheartbeat-interval: 1m\ndbs:\n  - path: {healthy}\n    replica: {{url: file://{dir}/r1}}\n");
        File.WriteAllText(bad, $"heartbeat-url: {server.Url("/ping/bad-77f1")}\nshutdown-sync-timeout: 1s\ndbs:\n  - path: {other}\n    replica: {{url: file://{dir}/r2}}\n" +
            $"  - path: {Path.Combine(dir, "failing.db")}\n    replica: {{url: 's3://bkt/f?endpoint=http://127.0.0.1:{closed}&region=us-east-1&forcePathStyle=true'}}\n");
        SqliteWriter.Write(Path.Combine(dir, "failing.db"), 1);
        using BackgroundProcess replicating = Exe.Start("replicate", "-config", good);
        using BackgroundProcess failing = Exe.Start("replicate", "-config", bad);

        // Checks run every 15 s (upstream's); the first one after the database synced pings.
        Wait.Until(() => server.Count("/ping/good-0c5d") == 1, "the first heartbeat", replicating);
        // Two more checks: no second ping within the interval, and none at all while a replica fails. A deliberate
        // wait: it proves something does NOT happen over two check periods.
        Thread.Sleep(TimeSpan.FromSeconds(32));
        Assert.Equal((1, 0), (server.Count("/ping/good-0c5d"), server.Count("/ping/bad-77f1")));
        Assert.Equal(0, replicating.Stop());
        failing.Stop();
        Assert.DoesNotContain("good-0c5d", replicating.Output);
        Assert.DoesNotContain("bad-77f1", failing.Output);
    }

    /// <summary>promtool accepts the exposition: it parses, and its only lint complaints are about upstream's own names.</summary>
    private static void AssertPromtoolAccepts(string exposition)
    {
        Assert.True(Prometheus.PromtoolPath is not null, Prometheus.MissingReason);
        var psi = new ProcessStartInfo(Prometheus.PromtoolPath!, ["check", "metrics"]) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        using Process promtool = Process.Start(psi)!;
        promtool.StandardInput.Write(exposition);
        promtool.StandardInput.Close();
        string output = promtool.StandardOutput.ReadToEnd() + promtool.StandardError.ReadToEnd();
        promtool.WaitForExit();
        string[] complaints = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(promtool.ExitCode is 0 or 3, $"promtool could not parse the exposition (exit {promtool.ExitCode}): {output}\n{exposition}");
        Assert.All(complaints, c => Assert.Contains(c, s_upstreamLint));
    }

    /// <summary>A GET: status and body; status 0 while nothing listens yet (the daemon is starting).</summary>
    internal static (int Status, string Body) Get(int port, string path)
    {
        string answer;
        try
        {
            answer = Raw(port, $"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
        {
            return (0, "");
        }
        int end = answer.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        return (int.Parse(answer.Split(' ', 3)[1], CultureInfo.InvariantCulture), end < 0 ? "" : answer[(end + 4)..]);
    }

    /// <summary>Sends <paramref name="request"/> and reads the answer to the end (the server closes after it).</summary>
    internal static string Raw(int port, string request)
    {
        using Socket socket = Connect(port);
        socket.Send(Encoding.ASCII.GetBytes(request));
        return ReadToEnd(socket);
    }

    private static Socket Connect(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = 30_000, SendTimeout = 30_000 };
        socket.Connect(IPAddress.Loopback, port);
        return socket;
    }

    private static string ReadToEnd(Socket socket)
    {
        var answer = new MemoryStream();
        byte[] buffer = new byte[64 * 1024];
        int read;
        while ((read = socket.Receive(buffer)) > 0)
        {
            answer.Write(buffer, 0, read);
        }
        return Encoding.UTF8.GetString(answer.ToArray());
    }

    internal static string StatusLine(string answer) => answer.Split("\r\n", 2)[0]["HTTP/1.1 ".Length..];
}

/// <summary>A loopback HTTP server that answers every request 200 and counts the requests per path.</summary>
internal sealed class CountingHttpServer : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Dictionary<string, int> _counts = [];
    private readonly Task _serve;

    public CountingHttpServer()
    {
        _listener.Start();
        _serve = Task.Run(ServeAsync);
    }

    public string Url(string path) => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}{path}";

    public int Count(string path)
    {
        lock (_counts)
        {
            return _counts.GetValueOrDefault(path);
        }
    }

    public void Dispose()
    {
        _listener.Stop();
        _serve.Wait(TimeSpan.FromSeconds(10));
    }

    private async Task ServeAsync()
    {
        while (true)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                return;
            }
            using (client)
            {
                var reader = new StreamReader(client.GetStream(), Encoding.ASCII);
                string? requestLine = await reader.ReadLineAsync();
                while (!string.IsNullOrEmpty(await reader.ReadLineAsync()))
                {
                }
                if (requestLine?.Split(' ') is [_, string path, _])
                {
                    lock (_counts)
                    {
                        _counts[path] = _counts.GetValueOrDefault(path) + 1;
                    }
                }
                await client.GetStream().WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8.ToArray());
            }
        }
    }
}
