using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Litestream.Aot.Tests.Cli;

/// <summary>
/// The control socket on the published exe: <c>replicate</c> with <c>socket.enabled</c>, driven by info, list, sync,
/// stop, start, register and unregister (upstream's outputs, exactly), by curl as a foreign HTTP client, and the
/// errors when no daemon answers.
/// </summary>
[Requires(Need.Python)]
public class ControlSocketTests
{
    [RequiresFact(Need.Exe)]
    public void Daemon_InfoListSyncStopStartRegisterUnregister_AnswerAsUpstream()
    {
        string dir = TestRepo.TempDir();
        string a = Path.Combine(dir, "a.db"), b = Path.Combine(dir, "b.db"), sock = Path.Combine(dir, "ls.sock");
        string replicaA = Path.Combine(dir, "ra"), replicaB = Path.Combine(dir, "rb");
        SqliteWriter.Write(a, 5);
        SqliteWriter.Write(b, 3);
        string config = Path.Combine(dir, "c.yml");
        File.WriteAllText(config, $"socket:\n  enabled: true\n  path: {sock}\n  permissions: 0660\ndbs:\n  - path: {a}\n    replica:\n      url: file://{replicaA}\n");
        using BackgroundProcess daemon = Exe.Start("replicate", "-config", config);

        // info: Go's MarshalIndent of InfoResponse.
        // The socket answers before the databases are added (so a second daemon fails fast): wait for the one DB.
        ProcessResult info = Wait.For(() => Exe.Run("info", "-socket", sock) is { ExitCode: 0 } r && r.Stdout.Contains("\"database_count\": 1") ? r : null, "the control socket to answer with the database added", daemon);
        string version = Exe.Run("version").Stdout.Trim().Split(' ')[0];
        Assert.Matches(
            $"^\\{{\n  \"version\": \"{version}\",\n  \"pid\": {daemon.Pid},\n  \"uptime_seconds\": \\d+,\n  \"started_at\": \"\\d{{4}}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(\\.\\d+)?Z\",\n  \"database_count\": 1,\n  \"databases\": \\[\n    \\{{\n      \"path\": \"{a}\",\n      \"replicas\": \\[[\\s\\S]*\\]\n    \\}}\n  \\]\n\\}}\n$",
            info.Stdout);
        Assert.Equal("", info.Stderr);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite, File.GetUnixFileMode(sock));
        }

        // sync -wait: everything written so far is on the replica when it answers.
        SqliteWriter.Write(a, 4);
        SyncReply first = Sync(sock, a, wait: true);
        Assert.Contains(first.Status, new[] { "synced", "no_change" });
        Assert.True(first.Txid >= 1);
        Assert.Equal(first.Txid, first.ReplicatedTxid);
        Assert.Equal(first.Txid, ReplicaMaxTxid(replicaA));

        // list: text and -json.
        Assert.Matches($"^{a} \\[replicating\\] \\(last sync: \\d{{4}}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ\\)\n$", Exe.Run("list", "-socket", sock).Stdout);
        Assert.Matches($"^\\{{\n  \"databases\": \\[\n    \\{{\n      \"path\": \"{a}\",\n      \"status\": \"replicating\",\n      \"last_sync_at\": \"[0-9T:.Z-]+\",\n      \"replicas\": \\[\n        \\{{\n          \"name\": \"file\",\n          \"type\": \"file\",\n          \"txid\": {first.Txid},\n          \"state\": \"ok\",\n          \"txids_behind\": 0\n        \\}}\n      \\]\n    \\}}\n  \\]\n\\}}\n$",
            Exe.Run("list", "-json", "-socket", sock).Stdout);

        // stop: the final sync ran, the position is the replica's; a second stop is "already".
        ProcessResult stop = Exe.Run("stop", "-socket", sock, a);
        Assert.Equal(0, stop.ExitCode);
        ulong stopped = ReplicaMaxTxid(replicaA);
        Assert.Equal($"db_path: {a}\nstate: stopped\ntxid: {stopped}\nsocket: {sock}\n", stop.Stdout);
        Assert.Equal($"{a} [stopped] (last sync: ", Exe.Run("list", "-socket", sock).Stdout[..(a.Length + 23)]);
        Assert.Equal($"{{\n  \"db_path\": \"{a}\",\n  \"state\": \"stopped\",\n  \"txid\": {stopped},\n  \"socket\": \"{sock}\"\n}}\n", Exe.Run("stop", "-json", "-socket", sock, a).Stdout);

        // While stopped nothing is captured, and sync says why.
        SqliteWriter.Write(a, 6);
        ProcessResult refused = Exe.Run("sync", "-socket", sock, a);
        Assert.Equal(1, refused.ExitCode);
        Assert.Equal($"error: sync failed: database not open: {a}\nhint: the database is stopped or not open yet; 'litestream start DB_PATH' resumes it\n", refused.Stderr);
        Assert.Equal(stopped, ReplicaMaxTxid(replicaA));

        // start: replication resumes from the stopped position and catches up with the rows written meanwhile.
        ProcessResult start = Exe.Run("start", "-json", "-socket", sock, a);
        Assert.Equal(0, start.ExitCode);
        using (JsonDocument started = JsonDocument.Parse(start.Stdout))
        {
            Assert.Equal(["db_path", "state", "txid", "socket"], started.RootElement.EnumerateObject().Select(p => p.Name));
            Assert.Equal((a, "running", sock), (started.RootElement.GetProperty("db_path").GetString(), started.RootElement.GetProperty("state").GetString(), started.RootElement.GetProperty("socket").GetString()));
            Assert.True(started.RootElement.GetProperty("txid").GetUInt64() >= stopped);
        }
        SyncReply caughtUp = Sync(sock, a, wait: true);
        Assert.True(caughtUp.Txid > stopped, $"txid {caughtUp.Txid} after start, {stopped} before");
        Assert.Equal(caughtUp.Txid, caughtUp.ReplicatedTxid);
        Assert.Equal("""{"status":"already_running","path":"A","txid":N}""".Replace("A", a).Replace("N", caughtUp.Txid.ToString()),
            Curl(sock, "POST", "/start", $"{{\"path\":\"{a}\"}}"));

        // register: b joins at run time and replicates; a second register is "already registered".
        ProcessResult register = Exe.Run("register", "-socket", sock, "-replica", $"file://{replicaB}", b);
        Assert.Equal(($"status: registered\ndb_path: {b}\nreplica: file://{replicaB}\nsocket: {sock}\n", ""), (register.Stdout, register.Stderr));
        Assert.Equal($"{{\n  \"status\": \"already_registered\",\n  \"db_path\": \"{b}\",\n  \"replica\": \"file://{replicaB}\",\n  \"socket\": \"{sock}\"\n}}\n",
            Exe.Run("register", "-json", "-socket", sock, "-replica", $"file://{replicaB}", b).Stdout);
        Assert.Contains("\"database_count\": 2", Exe.Run("info", "-socket", sock).Stdout);
        SqliteWriter.Write(b, 2);
        // register answers before the database is open (it may not exist yet): sync says so until it is.
        Wait.For(() => Exe.Run("sync", "-socket", sock, b) is { ExitCode: 0 } r ? r : null, "the registered database to open", daemon);
        SyncReply bSynced = Sync(sock, b, wait: true);
        Assert.Equal(bSynced.Txid, ReplicaMaxTxid(replicaB));

        // unregister: final sync, then gone; the replica restores to the database's content.
        SqliteWriter.Write(b, 1);
        ProcessResult unregister = Exe.Run("unregister", "-json", "-socket", sock, b);
        Assert.Equal(0, unregister.ExitCode);
        ulong finalTxid = ReplicaMaxTxid(replicaB);
        Assert.Equal($"{{\n  \"status\": \"unregistered\",\n  \"db_path\": \"{b}\",\n  \"final_txid\": {finalTxid},\n  \"socket\": \"{sock}\"\n}}\n", unregister.Stdout);
        Assert.Equal($"status: already_unregistered\ndb_path: {b}\nfinal_txid: 0\nsocket: {sock}\n", Exe.Run("unregister", "-socket", sock, b).Stdout);
        Assert.Matches($"^{a} \\[replicating\\] \\(last sync: [^)]+\\)\n$", Exe.Run("list", "-socket", sock).Stdout);
        ProcessResult missing = Exe.Run("sync", "-socket", sock, b);
        Assert.Equal((1, $"error: sync failed: database not found: {b}\nhint: 'litestream list' shows the databases the daemon knows; 'litestream register' adds one\n"), (missing.ExitCode, missing.Stderr));
        AssertRestoresTo(replicaB, b);

        // Upstream's paths answer foreign clients too, and a stopped daemon removes its socket.
        Assert.Equal("""{"error":"path required"}""", Curl(sock, "POST", "/sync", "{}"));
        Assert.Equal("""{"error":"not found"}""", Curl(sock, "GET", "/nope", null));
        Assert.Equal($"{{\"txid\":{Sync(sock, a, wait: false).Txid}}}", Curl(sock, "GET", $"/txid?path={Uri.EscapeDataString(a)}", null));
        Assert.Equal(0, daemon.Stop());
        Assert.False(File.Exists(sock));
        AssertRestoresTo(replicaA, a);
    }

    [RequiresFact(Need.Exe, Need.Tmpfs)]
    public void SyncWait_BacklogLeftByAReadOnlyReplica_AnswersOnlyWhenTheReplicaHoldsEveryTransaction()
    {
        string dir = TestRepo.TempDir();
        using var mount = new Tmpfs(Path.Combine(dir, "mnt"), "16m");
        string db = Path.Combine(dir, "app.db"), sock = Path.Combine(dir, "ls.sock"), replica = Path.Combine(mount.Path, "replica");
        SqliteWriter.Write(db, 3);
        // Batches of 4 files and a commit every 50 ms captured one by one: the backlog spans many batches.
        string config = Path.Combine(dir, "c.yml");
        File.WriteAllText(config, $"socket: {{enabled: true, path: {sock}}}\ndbs:\n  - path: {db}\n    monitor-interval: 20ms\n    replica:\n      url: file://{replica}\n      max-sync-ltx-files: 4\n");
        using BackgroundProcess daemon = Exe.Start("replicate", "-config", config);
        Wait.For(() => Exe.Run("sync", "-wait", "-socket", sock, db) is { ExitCode: 0 } r ? r : null, "the database to open and reach the replica", daemon);

        // A backlog of many batches, then the replica is writable again: the answer comes when the whole backlog
        // is up, not after the first batch.
        (ulong local, ulong onReplica) = Backlog(mount, sock, db, replica);
        mount.SetReadOnly(false);
        SyncReply caughtUp = Sync(sock, db, wait: true);
        Assert.True(caughtUp.Txid >= local, $"txid {caughtUp.Txid}, {local} before");
        Assert.Equal(caughtUp.Txid, caughtUp.ReplicatedTxid);
        Assert.True(ReplicaMaxTxid(replica) >= caughtUp.Txid);

        // Still read-only: -wait fails at its deadline (a second before the client's) and names what is missing.
        (local, onReplica) = Backlog(mount, sock, db, replica);
        ProcessResult failed = Exe.Run("sync", "-wait", "-timeout", "3", "-socket", sock, db);
        Assert.Equal((1, ""), (failed.ExitCode, failed.Stdout));
        Assert.Matches(
            $"^error: sync failed: {Regex.Escape(db)}: transactions {onReplica + 1:x16}\\.\\.[0-9a-f]{{16}} did not reach replica {Regex.Escape("file://" + replica)} " +
            $"\\(it holds txid {onReplica:x16}, the database is at [0-9a-f]{{16}}\\): not done within 2s; last error: .*Read-only file system.*\n$",
            failed.Stderr);
        mount.SetReadOnly(false);
        SyncReply last = Sync(sock, db, wait: true);
        Assert.Equal(last.Txid, last.ReplicatedTxid);
        Assert.Equal(0, daemon.Stop());
        AssertRestoresTo(replica, db);
    }

    [RequiresFact(Need.Exe)]
    public void Register_DatabaseAnotherProcessReplicates_FailsNamingItsPidAndIsNotAdded()
    {
        string dir = TestRepo.TempDir();
        string a = Path.Combine(dir, "a.db"), b = Path.Combine(dir, "b.db"), sock = Path.Combine(dir, "ls.sock");
        SqliteWriter.Write(a, 2);
        SqliteWriter.Write(b, 2);
        string config = Path.Combine(dir, "c.yml");
        File.WriteAllText(config, $"socket: {{enabled: true, path: {sock}}}\ndbs:\n  - path: {a}\n    replica: {{url: file://{dir}/ra}}\n");
        using BackgroundProcess daemon = Exe.Start("replicate", "-config", config);
        using BackgroundProcess other = Exe.Start("replicate", b, $"file://{dir}/rb-other");
        Wait.For(() => Exe.Run("sync", "-socket", sock, a) is { ExitCode: 0 } r ? r : null, "the daemon's database to open", daemon);
        Wait.For(() => File.Exists(Path.Combine(dir, "rb-other", "ltx", "0", "0000000000000001-0000000000000001.ltx")) ? "" : null, "the other replicator's first upload", other);

        ProcessResult refused = Exe.Run("register", "-socket", sock, "-replica", $"file://{dir}/rb", b);
        Assert.Equal(
            (1, "", $"error: register failed: {b} is already replicated by pid {other.Pid}\nhint: one process replicates a database: stop the other one first, or leave the database to it\n"),
            (refused.ExitCode, refused.Stdout, refused.Stderr));
        Assert.Matches($"^{a} \\[replicating\\] [^\n]+\n$", Exe.Run("list", "-socket", sock).Stdout);
        Assert.False(Directory.Exists(Path.Combine(dir, "rb")));

        // Once the other one stopped, the same register works.
        Assert.Equal(0, other.Stop());
        ProcessResult registered = Exe.Run("register", "-socket", sock, "-replica", $"file://{dir}/rb", b);
        Assert.True(registered.ExitCode == 0, registered.Stderr);
        Wait.For(() => Exe.Run("sync", "-socket", sock, b) is { ExitCode: 0 } r ? r : null, "the registered database to open", daemon);
        SyncReply synced = Sync(sock, b, wait: true);
        Assert.Equal(synced.Txid, synced.ReplicatedTxid);
        Assert.Equal(synced.Txid, ReplicaMaxTxid(Path.Combine(dir, "rb")));
        Assert.Equal(0, daemon.Stop());
    }

    [RequiresTheory(Need.Exe)]
    [InlineData("info")]
    [InlineData("list", "-json")]
    [InlineData("sync", "-wait", "/tmp/x.db")]
    [InlineData("start", "/tmp/x.db")]
    [InlineData("stop", "-timeout", "3", "/tmp/x.db")]
    [InlineData("register", "-replica", "file:///tmp/r", "/tmp/x.db")]
    [InlineData("unregister", "/tmp/x.db")]
    public void NoDaemon_OneErrorLineAndHint(string command, params string[] args)
    {
        string sock = Path.Combine(TestRepo.TempDir(), "none.sock");
        ProcessResult r = Exe.Run([command, "-socket", sock, .. args]);
        Assert.Equal(1, r.ExitCode);
        Assert.Equal("", r.Stdout);
        Assert.Equal(
            $"error: failed to connect to control socket {sock}: no such file or directory\n" +
            $"hint: is 'litestream replicate' running with socket: {{enabled: true, path: {sock}}} in its config? pass -socket PATH for another socket\n",
            r.Stderr);
    }

    [RequiresFact(Need.Exe)]
    public void SocketInUse_SecondDaemonFailsAndStaleSocketIsReplaced()
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "a.db"), sock = Path.Combine(dir, "ls.sock"), config = Path.Combine(dir, "c.yml");
        SqliteWriter.Write(db, 1);
        File.WriteAllText(config, $"socket: {{enabled: true, path: {sock}}}\ndbs:\n  - path: {db}\n    replica: {{url: file://{dir}/r}}\n");
        using (BackgroundProcess first = Exe.Start("replicate", "-config", config))
        {
            Wait.For(() => Exe.Run("info", "-socket", sock) is { ExitCode: 0 } r ? r : null, "the control socket to answer", first);
            ProcessResult second = Exe.Run("replicate", "-config", config);
            Assert.Equal((1, $"error: control socket {sock} is in use by another process\nhint: stop the other 'litestream replicate', or choose another socket.path\n"), (second.ExitCode, second.Stderr[second.Stderr.IndexOf("error:", StringComparison.Ordinal)..]));
            // SIGKILL leaves the socket file behind, as a crash would.
            Process.Start("kill", ["-KILL", first.Pid.ToString()])!.WaitForExit();
            Wait.For(() => first.HasExited ? "" : null, "the killed daemon to exit", null);
        }
        Assert.True(File.Exists(sock));
        using BackgroundProcess again = Exe.Start("replicate", "-config", config);
        ProcessResult info = Wait.For(() => Exe.Run("info", "-socket", sock) is { ExitCode: 0 } r ? r : null, "the restarted daemon's socket", again);
        Assert.Contains($"\"pid\": {again.Pid},", info.Stdout);
        Assert.Equal(0, again.Stop());
    }

    [RequiresFact(Need.Exe)]
    public void UnregisterDryRun_PrintsThePreviewAndSendsNothing()
    {
        string sock = Path.Combine(TestRepo.TempDir(), "none.sock");
        ProcessResult r = Exe.Run("unregister", "-dry-run", "-socket", sock, "-timeout", "7", "/data/app.db");
        Assert.Equal(0, r.ExitCode);
        Assert.Equal(
            "Dry run: unregister request preview\n  database: /data/app.db\n  socket: " + sock + "\n  replicas: daemon-managed replica for this database\n" +
            "  final sync: daemon close will sync the database and replica before the command completes\n  timeout: 7s\nNo unregister request was sent.\n",
            r.Stdout);
    }

    /// <summary>
    /// Hostile HTTP gets an answer, not a reset and an ERROR line (issue 17 item 9): a head over the limit 431, a body
    /// over it 413, a malformed chunked body 400, an unknown transfer coding 501, a request that never completes
    /// 408 after the read timeout; a well-formed chunked body is still decoded.
    /// </summary>
    [RequiresFact(Need.Exe)]
    public void Socket_HostileRequests_AnsweredWithTheirStatus()
    {
        (BackgroundProcess daemon, string sock, _) = StartDaemon();
        using (daemon)
        {
            // Slowloris: half a request, then silence.
            Task<string> slow = Task.Run(() => Raw(sock, "GET /info HTTP/1.1\r\nHost: x\r\n"));
            string body = "{\"path\":\"/x\"}";
            (string Request, string Answer)[] cases =
            [
                ("GET /info HTTP/1.1\r\nX-Big: " + new string('a', 20_000) + "\r\n\r\n", "431 Request Header Fields Too Large\n{\"error\":\"request header larger than 16 KiB\"}"),
                ("POST /sync HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", "400 Bad Request\n{\"error\":\"malformed chunked body\"}"),
                ("POST /sync HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{}\r\n0\r\n\r\n", "400 Bad Request\n{\"error\":\"malformed chunked body: chunk longer than its size\"}"),
                ("POST /sync HTTP/1.1\r\nContent-Length: 10000000\r\n\r\n", "413 Request Entity Too Large\n{\"error\":\"request body larger than 64 KiB\"}"),
                ("POST /sync HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFF\r\n", "413 Request Entity Too Large\n{\"error\":\"request body larger than 64 KiB\"}"),
                ("POST /sync HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", "501 Not Implemented\n{\"error\":\"unsupported transfer encoding: gzip\"}"),
                ("HELLO\r\n\r\n", "400 Bad Request\n{\"error\":\"malformed request line\"}"),
                ($"POST /sync HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{body[..5]}\r\n{body.Length - 5:x}\r\n{body[5..]}\r\n0\r\n\r\n", "404 Not Found\n{\"error\":\"database not found: /x\"}"),
            ];
            foreach ((string request, string answer) in cases)
            {
                Assert.Equal(answer, StatusAndBody(Raw(sock, request)));
            }
            Assert.Equal("408 Request Timeout\n{\"error\":\"request not received within 10s\"}", StatusAndBody(slow.Result));
            Assert.Equal(0, Exe.Run("info", "-socket", sock).ExitCode);
            Assert.Equal(0, daemon.Stop());
            Assert.DoesNotContain("level=ERROR", daemon.Output);
        }
    }

    /// <summary>Past 64 connections at once a client is answered 503 at once; once they close, the socket serves again.</summary>
    [RequiresFact(Need.Exe)]
    public void Socket_ConnectionsPastTheCap_503ThenServedAgain()
    {
        (BackgroundProcess daemon, string sock, _) = StartDaemon();
        using (daemon)
        {
            var idle = new List<Socket>();
            try
            {
                for (int i = 0; i < 64; i++)
                {
                    idle.Add(Connect(sock));
                }
                Assert.Equal("503 Service Unavailable\n{\"error\":\"too many connections (at most 64)\"}", StatusAndBody(Raw(sock, "GET /info HTTP/1.1\r\n\r\n")));
            }
            finally
            {
                idle.ForEach(s => s.Dispose());
            }
            Wait.For(() => Exe.Run("info", "-socket", sock, "-timeout", "30") is { ExitCode: 0 } r ? r : null, "the socket to serve again", daemon);
            Assert.Equal(0, daemon.Stop());
        }
    }

    /// <summary>
    /// Out of file descriptors (EMFILE: the limit lowered under the running daemon, then idle connections): the
    /// accept loop logs once and keeps retrying, and answers again once descriptors free up. It used to exit for good.
    /// </summary>
    [RequiresFact(Need.Exe)]
    public void Socket_OutOfFileDescriptors_KeepsAccepting()
    {
        (BackgroundProcess daemon, string sock, _) = StartDaemon();
        using (daemon)
        {
            int open = Directory.GetFiles($"/proc/{daemon.Pid}/fd").Length;
            ProcessResult prlimit = Processes.Run("prlimit", ["--pid", daemon.Pid.ToString(), $"--nofile={open + 8}:{open + 8}"]);
            Assert.True(prlimit.ExitCode == 0, prlimit.Output);
            var idle = new List<Socket>();
            try
            {
                // Twenty idle clients: eight take the last descriptors, the rest wait in the listen backlog.
                for (int i = 0; i < 20; i++)
                {
                    idle.Add(Connect(sock));
                }
                Wait.For(() => daemon.Output.Contains("cannot accept connections", StringComparison.Ordinal) ? "" : null, "the accept failure to be logged", daemon);
            }
            finally
            {
                idle.ForEach(s => s.Dispose());
            }
            ProcessResult info = Wait.For(() => Exe.Run("info", "-socket", sock, "-timeout", "30") is { ExitCode: 0 } r ? r : null, "the socket to accept again", daemon);
            Assert.Contains($"\"pid\": {daemon.Pid},", info.Stdout);
            Assert.Equal(0, daemon.Stop());
            // One line when an episode starts and one when it ends, not one per retry.
            string[] lines = daemon.Output.Split('\n');
            int failing = lines.Count(line => line.Contains("control socket: cannot accept connections: ", StringComparison.Ordinal));
            Assert.True(failing >= 1 && failing == lines.Count(line => line.Contains("control socket: accepting connections again", StringComparison.Ordinal)), daemon.Output);
        }
    }

    /// <summary>
    /// register refuses what cannot be a database, naming it (issue 17 item 14: a text file was registered and listed
    /// as "replicating" while every sync failed); a database that does not exist yet is still accepted, as upstream.
    /// </summary>
    [RequiresFact(Need.Exe)]
    public void Register_NotASqliteDatabase_RefusedNamingTheFile()
    {
        (BackgroundProcess daemon, string sock, string dir) = StartDaemon();
        using (daemon)
        {
            string text = Path.Combine(dir, "notes.txt"), later = Path.Combine(dir, "later.db");
            File.WriteAllText(text, "these are not the pages you are looking for\n");
            ProcessResult refused = Exe.Run("register", "-socket", sock, "-replica", $"file://{dir}/rt", text);
            Assert.Equal((1, "", $"error: register failed: not a SQLite database: {text} (it does not start with the SQLite header)\nhint: check the database path and the replica URL\n"), (refused.ExitCode, refused.Stdout, refused.Stderr));
            ProcessResult directory = Exe.Run("register", "-socket", sock, "-replica", $"file://{dir}/rd", dir);
            Assert.Equal((1, $"error: register failed: not a regular file: {dir}\nhint: check the database path and the replica URL\n"), (directory.ExitCode, directory.Stderr));
            Assert.Equal(0, Exe.Run("register", "-socket", sock, "-replica", $"file://{dir}/rl", later).ExitCode);
            string list = Exe.Run("list", "-socket", sock).Stdout;
            Assert.DoesNotContain(text, list);
            Assert.Contains(later, list);
            Assert.Equal(0, daemon.Stop());
        }
    }

    /// <summary>A daemon with the control socket and one database; returns once the socket answers.</summary>
    private static (BackgroundProcess Daemon, string Socket, string Directory) StartDaemon()
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "a.db"), sock = Path.Combine(dir, "ls.sock"), config = Path.Combine(dir, "c.yml");
        SqliteWriter.Write(db, 1);
        File.WriteAllText(config, $"socket: {{enabled: true, path: {sock}}}\ndbs:\n  - path: {db}\n    replica: {{url: file://{dir}/r}}\n");
        BackgroundProcess daemon = Exe.Start("replicate", "-config", config);
        Wait.For(() => Exe.Run("info", "-socket", sock) is { ExitCode: 0 } r ? r : null, "the control socket to answer", daemon);
        return (daemon, sock, dir);
    }

    private static Socket Connect(string sock)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Connect(new UnixDomainSocketEndPoint(sock));
        return socket;
    }

    /// <summary>Sends <paramref name="request"/> as is and reads the answer to the end (the server closes after it).</summary>
    private static string Raw(string sock, string request)
    {
        using Socket socket = Connect(sock);
        socket.ReceiveTimeout = 60_000;
        socket.Send(Encoding.ASCII.GetBytes(request));
        var answer = new MemoryStream();
        byte[] buffer = new byte[4096];
        int read;
        while ((read = socket.Receive(buffer)) > 0)
        {
            answer.Write(buffer, 0, read);
        }
        return Encoding.ASCII.GetString(answer.ToArray());
    }

    /// <summary>"STATUS REASON\nBODY" of a raw answer, without the trailing newline of the body.</summary>
    private static string StatusAndBody(string answer)
    {
        Assert.StartsWith("HTTP/1.1 ", answer);
        int headEnd = answer.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        Assert.True(headEnd > 0, answer);
        return answer[9..answer.IndexOf("\r\n", StringComparison.Ordinal)] + "\n" + answer[(headEnd + 4)..].TrimEnd('\n');
    }

    private sealed record SyncReply(string Status, ulong Txid, ulong ReplicatedTxid);

    private static SyncReply Sync(string sock, string db, bool wait)
    {
        ProcessResult r = wait ? Exe.Run("sync", "-wait", "-socket", sock, db) : Exe.Run("sync", "-socket", sock, db);
        Assert.True(r.ExitCode == 0, r.Stderr);
        using JsonDocument doc = JsonDocument.Parse(r.Stdout);
        JsonElement root = doc.RootElement;
        Assert.Equal(["status", "path", "txid", "replicated_txid"], root.EnumerateObject().Select(p => p.Name));
        Assert.Equal(db, root.GetProperty("path").GetString());
        Assert.StartsWith("{\n  \"status\": ", r.Stdout);
        return new SyncReply(root.GetProperty("status").GetString()!, root.GetProperty("txid").GetUInt64(), root.GetProperty("replicated_txid").GetUInt64());
    }

    /// <summary>The file replica at <paramref name="replica"/> restores to what <paramref name="db"/> holds.</summary>
    private static void AssertRestoresTo(string replica, string db)
    {
        string restored = Path.Combine(Path.GetDirectoryName(db)!, $"restored-{Guid.NewGuid():N}.db");
        Assert.Equal(0, Exe.Run("restore", "-o", restored, $"file://{replica}").ExitCode);
        Assert.Equal(SqliteWriter.Dump(db), SqliteWriter.Dump(restored));
    }

    /// <summary>Makes the replica read-only and commits 60 transactions; returns the local and the replica's TXID.</summary>
    private static (ulong Local, ulong OnReplica) Backlog(Tmpfs mount, string sock, string db, string replica)
    {
        mount.SetReadOnly(true);
        SqliteWriter.Write(db, new Workload { Commits = 60, Pause = 0.05 });
        ulong local = Sync(sock, db, wait: false).Txid;
        ulong onReplica = ReplicaMaxTxid(replica);
        Assert.True(local > onReplica + 8, $"only {local - onReplica} transactions waiting: the test needs more than two batches of 4");
        return (local, onReplica);
    }

    internal static ulong ReplicaMaxTxid(string replica)
    {
        ProcessResult r = Exe.Run("ltx", "-json", "-level", "0", "file://" + replica);
        Assert.True(r.ExitCode == 0, r.Stderr);
        using JsonDocument doc = JsonDocument.Parse(r.Stdout);
        return doc.RootElement.EnumerateArray().Select(f => Convert.ToUInt64(f.GetProperty("max_txid").GetString(), 16)).DefaultIfEmpty(0UL).Max();
    }

    /// <summary>curl over the Unix socket: the body of the reply, without its trailing newline.</summary>
    internal static string Curl(string sock, string method, string path, string? body)
    {
        var psi = new ProcessStartInfo("curl") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in (string[])["-sS", "--unix-socket", sock, "-X", method, "http://localhost" + path, .. body is null ? Array.Empty<string>() : ["-H", "Content-Type: application/json", "-d", body]])
        {
            psi.ArgumentList.Add(arg);
        }
        using Process p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, p.StandardError.ReadToEnd());
        return output.TrimEnd('\n');
    }
}
