using System.Globalization;
using Litestream.Aot.Tests.Cli;
using Litestream.Ltx;
using Litestream.Ltx.Tests.Fixtures;
using Xunit.Abstractions;

namespace Litestream.Aot.Tests.Vfs;

/// <summary>
/// litestream-vfs.so loaded by hosts no one here wrote (the sqlite3 CLI and Python's sqlite3 module, both
/// Debian's SQLite 3.40), reading a file replica that the published <c>litestream replicate</c> keeps
/// writing while a python3 writer commits; every state read is checked against <c>litestream restore</c>
/// at the TXID (or time) the VFS reported.
/// </summary>
[Requires(Need.Python, Need.Sqlite3)]
public class VfsExtensionTests
{
    private readonly ITestOutputHelper _output;

    public VfsExtensionTests(ITestOutputHelper output) => _output = output;

    [RequiresFact(Need.Exe, Need.VfsExtension, Need.ExtensionPython)]
    public void SqliteCliAndPython_ReadALiveReplica_EqualToRestoreAtTheReportedTxid()
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        string rep = Path.Combine(dir, "replica");
        string url = "file://" + rep;
        // 20 s of commits of one or five random blobs of mixed sizes, every seventh also deleting two random rows.
        using BackgroundProcess writer = SqliteWriter.Start(db, new Workload
        {
            Seconds = 20,
            Batch = "1,5",
            Sizes = "10,300,3000,9000",
            Seed = 7,
            Prune = "id IN (SELECT id FROM t ORDER BY random() LIMIT 2)",
            PruneEvery = 7,
            Pause = 0.01,
            BusyTimeoutMs = 10_000,
        });
        Wait.Until(() => File.Exists(db), "the writer to create the database");
        using BackgroundProcess replicate = Exe.Start("replicate", db, url);
        Wait.Until(() => FileReplica.NewestL0Txid(rep) >= 2, "replicate to upload two transactions");

        // One long-lived python connection: a read transaction every 0.5 s, each pinned to one TXID.
        string python = VfsHost.Python(SqliteWriter.ImportDigest + """
            c = open_replica(sys.argv[1])
            end = time.time() + 8
            while time.time() < end:
                c.execute("BEGIN")
                d = "%d %s" % digest(c)
                print(c.execute("SELECT litestream_txid()").fetchone()[0], d)
                c.execute("COMMIT")
                time.sleep(0.5)
            print("integrity", c.execute("PRAGMA integrity_check").fetchone()[0])
            """, url);
        ProcessResult cli = VfsHost.Sqlite3($"file:app.db?vfs=litestream&replica={url}",
            "BEGIN", "SELECT count(*), coalesce(sum(length(v)), 0), coalesce(sum(id * length(v)), 0) FROM t;", "PRAGMA litestream_txid;", "PRAGMA integrity_check;", "COMMIT");
        writer.WaitForSuccess(TimeSpan.FromMinutes(2));
        Assert.Equal(0, replicate.Stop());
        _output.WriteLine(python);
        _output.WriteLine(cli.Stdout + cli.Stderr);

        string[] lines = python.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("integrity ok", lines[^1]);
        var states = lines[..^1].Select(l => l.Split(' ', 2)).GroupBy(p => p[0]).ToDictionary(g => g.Key, g => g.Select(p => p[1]).Distinct().ToList());
        Assert.True(states.Count >= 2, $"the reader saw one TXID only (polling did not move it): {python}");
        Assert.All(states.Values, seen => Assert.Single(seen));

        AssertEqualsRestoresAtTheirTxids(dir, url, states);

        Assert.Equal(0, cli.ExitCode);
        string[] cliLines = cli.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, cliLines.Length);
        Assert.Equal("ok", cliLines[2]);
        string cliRestored = Path.Combine(dir, "restored-cli.db");
        Assert.Equal(0, Exe.Run("restore", "-txid", cliLines[1], "-o", cliRestored, url).ExitCode);
        ProcessResult plain = VfsHost.Run("sqlite3", [cliRestored, "SELECT count(*), coalesce(sum(length(v)), 0), coalesce(sum(id * length(v)), 0) FROM t;"]);
        Assert.Equal(plain.Stdout.Trim(), cliLines[0]);
    }

    [RequiresFact(Need.Exe, Need.VfsExtension, Need.ExtensionPython)]
    public void LongReadTransactions_AcrossPolls_NeverSeeABrokenSum()
    {
        // Rows 1 and 1000 sit on different pages (3 KB of padding each, filler rows between them); for 16 s the writer
        // moves money between them, their sum always 1000.
        (string db, string url, BackgroundProcess replicate) = StartReplicated(SqliteWriter.Kind.Transfers);
        using BackgroundProcess _ = replicate;
        using BackgroundProcess writer = SqliteWriter.Start(db, SqliteWriter.Kind.Transfers, new Workload { Seconds = 16, Pause = 0.005, BusyTimeoutMs = 10_000 });

        // Each transaction reads the two rows apart, 2.5 s apart in total, over at least two polls.
        string output = VfsHost.Python("""
            c = open_replica(sys.argv[1])
            txids, reads, end = set(), 0, time.time() + 12
            while time.time() < end:
                c.execute("BEGIN")
                t0 = c.execute("PRAGMA litestream_txid").fetchone()[0]
                for i in range(10):
                    a = c.execute("SELECT bal FROM acct WHERE id = 1").fetchone()[0]
                    time.sleep(0.125)
                    b = c.execute("SELECT bal FROM acct WHERE id = 1000").fetchone()[0]
                    time.sleep(0.125)
                    t = c.execute("PRAGMA litestream_txid").fetchone()[0]
                    assert a + b == 1000, "broken sum %d + %d at txid %s (transaction began at %s)" % (a, b, t, t0)
                    assert t == t0, "txid moved inside a transaction: %s -> %s" % (t0, t)
                    reads += 1
                c.execute("COMMIT")
                txids.add(t0)
            print(len(txids), reads)
            """, url);
        writer.WaitForSuccess(TimeSpan.FromMinutes(2));
        Assert.Equal(0, replicate.Stop());
        _output.WriteLine(output);
        string[] parts = output.Trim().Split(' ');
        Assert.True(int.Parse(parts[0], CultureInfo.InvariantCulture) >= 2, $"every transaction saw the same TXID: {output}");
        Assert.True(int.Parse(parts[1], CultureInfo.InvariantCulture) >= 20, output);
    }

    [RequiresFact(Need.Exe, Need.VfsExtension, Need.ExtensionPython)]
    public void TimeTravel_BothDialects_EqualsRestoreAtTheTimestamp_AndTheWritersRecordedStates()
    {
        (string db, string url, BackgroundProcess replicate) = StartReplicated(SqliteWriter.Kind.Ticks);
        using BackgroundProcess _ = replicate;
        string dir = Path.GetDirectoryName(db)!;
        const int Commits = 8;
        // The writer's recorded states: state k (s.k = k, k rows in h) committed at the logged time, one every 1.3 s.
        string log = Path.Combine(dir, "ticks.log");
        SqliteWriter.Write(db, SqliteWriter.Kind.Ticks, new Workload { Commits = Commits, Pause = 1.3, Log = log });
        string recorded = File.ReadAllText(log);
        long[] committedAt = [.. recorded.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => long.Parse(l.Split(' ')[1], CultureInfo.InvariantCulture))];
        Wait.Until(() => VfsHost.Python("print(open_replica(sys.argv[1]).execute('SELECT k FROM s').fetchone()[0])", url).Trim() == $"{Commits}",
            "the replica to reach the last state");
        Assert.Equal(0, replicate.Stop());

        // Times between commits, just after them, and before the first one.
        var times = new List<long> { committedAt[0] - 700 };
        var rnd = new Random(11);
        for (int i = 0; i < Commits; i++)
        {
            long next = i + 1 < Commits ? committedAt[i + 1] : committedAt[i] + 1300;
            times.Add(committedAt[i] + rnd.Next(50, (int)(next - committedAt[i])));
        }
        string[] stamps = [.. times.Select(t => DateTimeOffset.FromUnixTimeMilliseconds(t).ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture))];
        string output = VfsHost.Python("""
            c = open_replica(sys.argv[1])
            for i, t in enumerate(sys.argv[2:]):
                if i % 2:
                    c.execute("PRAGMA litestream_time = '%s'" % t)
                    shown = c.execute("PRAGMA litestream_time").fetchone()[0]
                else:
                    c.execute("SELECT litestream_set_time(?)", (t,)).fetchall()
                    shown = c.execute("SELECT litestream_time()").fetchone()[0]
                try:
                    k = c.execute("SELECT k FROM s").fetchone()[0]
                    n, m = c.execute("SELECT count(*), coalesce(max(k), 0) FROM h").fetchone()
                    print(t, shown, k, n, m, c.execute("PRAGMA litestream_txid").fetchone()[0])
                except sqlite3.Error as e:
                    print(t, shown, "error", type(e).__name__, e)
            c.execute("PRAGMA litestream_time = 'now'")
            print("now", c.execute("SELECT k FROM s").fetchone()[0], c.execute("SELECT litestream_lag()").fetchone()[0] >= 0)
            """, [url, .. stamps]);
        _output.WriteLine(recorded);
        _output.WriteLine(output);

        string[] lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal($"now {Commits} True", lines[^1]);
        int previous = -1;
        for (int i = 0; i < stamps.Length; i++)
        {
            string[] f = lines[i].Split(' ');
            Assert.Equal(stamps[i], f[0]);
            Assert.Equal(stamps[i], f[1]);
            ProcessResult restored = Exe.Run("restore", "-timestamp", stamps[i], "-o", Path.Combine(dir, $"at-{i}.db"), url);
            if (f[2] == "error")
            {
                // Before the first replicated state: nothing to travel to, and restore agrees.
                Assert.NotEqual(0, restored.ExitCode);
                continue;
            }
            int k = int.Parse(f[2], CultureInfo.InvariantCulture);
            Assert.Equal($"{k} {k}", $"{f[3]} {f[4]}");  // a state the writer recorded: k rows, newest k
            Assert.True(k >= previous, $"time went backwards at {stamps[i]}");
            Assert.True(k <= committedAt.Count(t => t < times[i]), $"state {k} at {stamps[i]} was committed later");
            previous = k;
            Assert.True(restored.ExitCode == 0, restored.Stderr);
            Assert.Equal($"{k}", VfsHost.Run("sqlite3", [Path.Combine(dir, $"at-{i}.db"), "SELECT k FROM s"]).Stdout.Trim());
        }
        Assert.True(previous >= Commits - 1, $"the last travel should see (nearly) the final state: {output}");
    }

    /// <summary>Each state the VFS reported (TXID → "rows sha256" as digest() prints it) equals a restore at that TXID (at most five, spread over the run).</summary>
    private static void AssertEqualsRestoresAtTheirTxids(string dir, string url, Dictionary<string, List<string>> states)
    {
        string[] txids = [.. states.Keys.Order(StringComparer.Ordinal)];
        foreach (string txid in txids.Where((_, i) => i % Math.Max(1, txids.Length / 5) == 0))
        {
            string restored = Path.Combine(dir, $"restored-{txid}.db");
            ProcessResult r = Exe.Run("restore", "-txid", txid, "-o", restored, url);
            Assert.True(r.ExitCode == 0, r.Stderr);
            string[] dump = SqliteWriter.Dump(restored).Trim().Split(' ', 2); // integrity, then "rows sha256"
            Assert.Equal("ok", dump[0]);
            Assert.Equal(dump[1], states[txid][0]);
        }
    }

    [RequiresFact(Need.Exe, Need.VfsExtension, Need.ExtensionPython)]
    public void Hydration_FromTheEnvironment_SwitchesToTheLocalCopy_WhileReplicateUploads_StatesEqualRestores()
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        string rep = Path.Combine(dir, "replica");
        string url = "file://" + rep;
        string copy = Path.Combine(dir, "hydrated", "app.db");
        using BackgroundProcess writer = SqliteWriter.Start(db, new Workload { Seconds = 15, Batch = "1,5", Sizes = "10,300,3000,9000", Seed = 11, Pause = 0.01, BusyTimeoutMs = 10_000 });
        Wait.Until(() => File.Exists(db), "the writer to create the database");
        using BackgroundProcess replicate = Exe.Start("replicate", db, url);
        Wait.Until(() => FileReplica.NewestL0Txid(rep) >= 2, "replicate to upload two transactions");

        var env = new Dictionary<string, string?>
        {
            ["LITESTREAM_HYDRATION_ENABLED"] = "true",
            ["LITESTREAM_HYDRATION_PATH"] = copy,
            ["LITESTREAM_POLL_INTERVAL"] = "100ms",
            ["LITESTREAM_LOG_LEVEL"] = "info",
        };
        // Read transactions until the copy is complete, then 5 s more while the writer keeps committing.
        ProcessResult python = VfsHost.Run(Prerequisites.ExtensionPython!, ["-c", VfsHost.PythonPrelude + SqliteWriter.ImportDigest + """
            c = open_replica(sys.argv[1])
            print("file", c.execute("PRAGMA litestream_hydration_file").fetchone()[0])
            progress, done, end = [], None, time.time() + 90
            while time.time() < end and (done is None or time.time() < done + 5):
                p = float(c.execute("PRAGMA litestream_hydration_progress").fetchone()[0])
                progress.append(p)
                if p == 100.0 and done is None:
                    done = time.time()
                c.execute("BEGIN")
                d = "%d %s" % digest(c)
                print("state", c.execute("SELECT litestream_txid()").fetchone()[0], d)
                c.execute("COMMIT")
                time.sleep(0.2)
            print("progress", "monotonic" if progress == sorted(progress) else progress, progress[-1])
            print("integrity", c.execute("PRAGMA integrity_check").fetchone()[0])
            """, url], env);
        writer.WaitForSuccess(TimeSpan.FromMinutes(2));
        Assert.Equal(0, replicate.Stop());
        _output.WriteLine(python.Stdout + python.Stderr);

        Assert.Equal(0, python.ExitCode);
        string[] lines = python.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal($"file {copy}", lines[0]);
        Assert.Equal("progress monotonic 100.0", lines[^2]);
        Assert.Equal("integrity ok", lines[^1]);
        var states = lines[1..^2].Select(l => l.Split(' ', 3)).GroupBy(p => p[1]).ToDictionary(g => g.Key, g => g.Select(p => p[2]).Distinct().ToList());
        Assert.True(states.Count >= 2, $"the reader saw one TXID only: {python.Stdout}");
        Assert.All(states.Values, seen => Assert.Single(seen));
        AssertEqualsRestoresAtTheirTxids(dir, url, states);
        Assert.Contains($"reads switch to {copy}", python.Stderr);
        Assert.True(File.Exists(copy), "a copy at a named path is kept");
        Assert.False(File.Exists(copy + ".tmp"));
    }

    [RequiresFact(Need.Exe, Need.VfsExtension, Need.ExtensionPython)]
    public void Hydration_KilledMidway_TheNextProcessHydratesAfresh_EqualToRestore()
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        string url = "file://" + Path.Combine(dir, "replica");
        string copy = Path.Combine(dir, "hydrated.db");
        SqliteWriter.Write(db, new Workload { Commits = 1, Batch = "12000", Pad = 3000 }); // ~20 MB: hydration takes a while
        Assert.Equal(0, Exe.Run("replicate", "-once", db, url).ExitCode);
        var env = new Dictionary<string, string?>
        {
            ["LITESTREAM_HYDRATION_ENABLED"] = "true",
            ["LITESTREAM_HYDRATION_PATH"] = copy,
            ["LITESTREAM_LOG_LEVEL"] = "info",
        };

        // kill -9 as soon as the first progress is read: mid-download, or just after it.
        using (var first = new BackgroundProcess(Prerequisites.ExtensionPython!, ["-c", VfsHost.PythonPrelude + """
            c = open_replica(sys.argv[1])
            while True:
                print("progress", c.execute("PRAGMA litestream_hydration_progress").fetchone()[0], flush=True)
                time.sleep(0.01)
            """, url], env))
        {
            Wait.Until(() => first.Output.Contains("progress"), "the first process to start hydrating", first);
            bool midway = File.Exists(copy + ".tmp");
            first.Kill();
            _output.WriteLine($"killed with {(midway ? "a temp file" : "no temp file")}: {first.Output}");
        }

        string second = VfsHost.Run(Prerequisites.ExtensionPython!, ["-c", VfsHost.PythonPrelude + SqliteWriter.ImportDigest + """
            c = open_replica(sys.argv[1])
            end = time.time() + 90
            while c.execute("PRAGMA litestream_hydration_progress").fetchone()[0] != "100.0" and time.time() < end:
                time.sleep(0.05)
            c.execute("BEGIN")
            print(c.execute("PRAGMA litestream_hydration_progress").fetchone()[0], c.execute("SELECT litestream_txid()").fetchone()[0], "%d %s" % digest(c))
            c.execute("COMMIT")
            """, url], env).Stdout.Trim();
        _output.WriteLine(second);
        string[] f = second.Split(' ', 3);
        Assert.Equal("100.0", f[0]);
        AssertEqualsRestoresAtTheirTxids(dir, url, new Dictionary<string, List<string>> { [f[1]] = [f[2]] });
        Assert.False(File.Exists(copy + ".tmp"));
        string restored = Path.Combine(dir, $"restored-{f[1]}.db");
        Assert.True(File.ReadAllBytes(restored).AsSpan().SequenceEqual(File.ReadAllBytes(copy)), "the copy equals the restore");
    }

    /// <summary>Creates app.db in WAL mode with the schema of <paramref name="kind"/>, starts
    /// <c>litestream replicate</c> to a file replica and waits for the first upload.</summary>
    private static (string Db, string Url, BackgroundProcess Replicate) StartReplicated(SqliteWriter.Kind kind)
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        string rep = Path.Combine(dir, "replica");
        SqliteWriter.Write(db, kind, new Workload());
        BackgroundProcess replicate = Exe.Start("replicate", db, "file://" + rep);
        Wait.Until(() => FileReplica.NewestL0Txid(rep) >= 1, "the first upload");
        return (db, "file://" + rep, replicate);
    }

    /// <summary>An encrypted replica (docs/ENCRYPTION.md) read by the sqlite3 CLI with the key from the environment.</summary>
    [RequiresFact(Need.Exe, Need.VfsExtension, Need.ExtensionPython)]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void EncryptedReplica_KeyFromTheEnvironment_ReadsEqualToTheSource_NoKeyOrABadKeyCantOpen()
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        string rep = Path.Combine(dir, "replica");
        string key = Path.Combine(dir, "key");
        File.WriteAllText(key, "5c" + new string('a', 62) + "\n");
        File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        string config = Path.Combine(dir, "litestream.yml");
        File.WriteAllText(config, $"dbs:\n  - path: {db}\n    replica:\n      url: file://{rep}\n      encryption: {{key-path: {key}}}\n");
        SqliteWriter.Write(db, new Workload { Commits = 50, Sizes = "1000", Seed = 9 });
        Assert.Equal(0, Exe.Run("replicate", "-once", "-config", config).ExitCode);
        string query = "SELECT count(*), sum(length(v)) FROM t;";
        string expected = Processes.RunOk("sqlite3", [db, query]).Trim();
        string uri = $"file:app.db?vfs=litestream&replica=file://{rep}";

        ProcessResult read = VfsHost.Run("sqlite3", [":memory:", $".load {VfsHost.SoPath}", $".open {uri}", query, "PRAGMA integrity_check;"],
            new Dictionary<string, string?> { ["LITESTREAM_ENCRYPTION_KEY_PATH"] = key });
        _output.WriteLine(read.Stdout + read.Stderr);
        Assert.Equal($"{expected}\nok", read.Stdout.Trim());

        ProcessResult noKey = VfsHost.Sqlite3(uri, query);
        Assert.Contains("unable to open database", noKey.Stderr);
        Assert.Matches(@"litestream-vfs: open app\.db: .*encrypted with key id [0-9a-f]{8} and no encryption key is configured", noKey.Stderr);
        Assert.DoesNotContain(expected, noKey.Stdout);

        ProcessResult badKey = VfsHost.Run("sqlite3", [":memory:", $".load {VfsHost.SoPath}", $".open {uri}", query],
            new Dictionary<string, string?> { ["LITESTREAM_ENCRYPTION_KEY"] = "not+a/key" });
        Assert.Contains("unable to open database", badKey.Stderr);
        Assert.Contains("LITESTREAM_ENCRYPTION_KEY is not an encryption key: need 32 bytes as 64 hex digits or base64", badKey.Stderr);
        Assert.DoesNotContain("not+a/key", badKey.Stderr);
    }

    [RequiresFact(Need.Exe, Need.VfsExtension, Need.ExtensionPython)]
    public void Errors_MissingReplica_CorruptFile_NotOurDatabase_AreSqliteErrorsNotCrashes()
    {
        string dir = TestRepo.TempDir();
        ProcessResult missing = VfsHost.Sqlite3($"file:x.db?vfs=litestream&replica=file://{dir}/nothing-here", "SELECT count(*) FROM sqlite_master;");
        _output.WriteLine(missing.Stdout + missing.Stderr);
        Assert.InRange(missing.ExitCode, 0, 1);
        Assert.Contains("unable to open database", missing.Stderr);
        Assert.Contains("no backups available", missing.Stderr);

        ProcessResult notOurs = VfsHost.Run("sqlite3", [":memory:", $".load {VfsHost.SoPath}", "SELECT litestream_txid();"]);
        Assert.Contains("not opened with the litestream vfs", notOurs.Stderr);

        // A replica whose only file has a damaged page frame: SQLITE_CORRUPT with the cause on stderr.
        string db = Path.Combine(dir, "app.db");
        string rep = Path.Combine(dir, "replica");
        SqliteWriter.Write(db, new Workload { Commits = 200, Sizes = "1000", Seed = 5 });
        Assert.Equal(0, Exe.Run("replicate", "-once", db, "file://" + rep).ExitCode);
        // The first page frame follows the 100-byte header: its page number no longer matches the index.
        string file = Directory.GetFiles(Path.Combine(rep, "ltx", "0"))[0];
        byte[] bytes = File.ReadAllBytes(file);
        bytes[100] ^= 0x5A;
        File.WriteAllBytes(file, bytes);
        ProcessResult corrupt = VfsHost.Sqlite3($"file:app.db?vfs=litestream&replica=file://{rep}", "SELECT count(*), sum(length(v)) FROM t;");
        _output.WriteLine(corrupt.Stdout + corrupt.Stderr);
        Assert.InRange(corrupt.ExitCode, 0, 1);
        Assert.Contains("database disk image is malformed", corrupt.Stderr);
        Assert.Contains("litestream-vfs: read", corrupt.Stderr);
    }

    /// <summary>
    /// Files a restore refuses must not be served either (issue 17): each case copies one good replica (a
    /// 29-page snapshot, then a second file) and makes one file hostile, checksummed as a good file so only the
    /// format rules can catch it. The open fails with a SQLite error and the cause on stderr; no row is served.
    /// </summary>
    [RequiresFact(Need.Exe, Need.VfsExtension, Need.ExtensionPython)]
    public void Errors_HostileReplicaFiles_RefusedWithTheCauseLogged_NeverServed()
    {
        const string First = "ltx/0/0000000000000001-0000000000000001.ltx", Second = "ltx/0/0000000000000002-0000000000000002.ltx";
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        string good = Path.Combine(dir, "good");
        SqliteWriter.Write(db, new Workload { Commits = 100, Sizes = "1000" });
        Assert.Equal(0, Exe.Run("replicate", "-once", db, "file://" + good).ExitCode);
        SqliteWriter.Write(db, new Workload { Commits = 5, Sizes = "1000" });
        Assert.Equal(0, Exe.Run("replicate", "-once", db, "file://" + good).ExitCode);
        (LtxHeader snapshot, List<(uint Pgno, byte[] Page)> snapshotPages) = LtxFileBuilder.Decode(File.ReadAllBytes(Path.Combine(good, First)));
        (LtxHeader next, List<(uint Pgno, byte[] Page)> nextPages) = LtxFileBuilder.Decode(File.ReadAllBytes(Path.Combine(good, Second)));
        Assert.Equal(29u, snapshot.Commit);

        var cases = new (string Name, Action<string> Break, string Code, string Cause)[]
        {
            ("commit-max", r => File.WriteAllBytes(Path.Combine(r, First), LtxFileBuilder.BuildUnchecked(snapshot with { Commit = uint.MaxValue }, snapshotPages)),
                "database disk image is malformed", $"{First}: snapshot transaction file is missing pages: last page 29, commit 4294967295"),
            ("commit-35", r => File.WriteAllBytes(Path.Combine(r, First), LtxFileBuilder.BuildUnchecked(snapshot with { Commit = 35 }, snapshotPages)),
                "database disk image is malformed", $"{First}: snapshot transaction file is missing pages: last page 29, commit 35"),
            ("20-of-29", r => File.WriteAllBytes(Path.Combine(r, First), LtxFileBuilder.BuildUnchecked(snapshot, snapshotPages.Take(20))),
                "database disk image is malformed", $"{First}: snapshot transaction file is missing pages: last page 20, commit 29"),
            ("grows-past-its-pages", r => File.WriteAllBytes(Path.Combine(r, Second), LtxFileBuilder.BuildUnchecked(next with { Commit = 0xFFFFFFF0 }, nextPages)),
                "database disk image is malformed", $"{Second}: commit 4294967280 grows the database from 29 pages past the file's last page {nextPages[^1].Pgno} (page size 4096)"),
            ("not-a-snapshot-in-l9", r =>
                {
                    Directory.CreateDirectory(Path.Combine(r, "ltx", "9"));
                    File.Move(Path.Combine(r, Second), Path.Combine(r, "ltx", "9", Path.GetFileName(Second)));
                },
                "database disk image is malformed", "ltx/9/0000000000000002-0000000000000002.ltx: level 9 holds snapshots only, this file starts at txid 0000000000000002"),
            ("name-disagrees-with-header", r => File.Copy(Path.Combine(r, First), Path.Combine(r, Second), overwrite: true),
                "database disk image is malformed", $"{Second}: header says 0000000000000001-0000000000000001"),
            ("fifo", r =>
                {
                    File.Delete(Path.Combine(r, Second));
                    Assert.Equal(0, Processes.Run("mkfifo", [Path.Combine(r, Second)]).ExitCode);
                },
                "disk I/O error", $"{Path.Combine(dir, "fifo", Second)} is a fifo, not a regular file: refusing to read it"),
        };
        foreach ((string name, Action<string> breakIt, string code, string cause) in cases)
        {
            string replica = Path.Combine(dir, name);
            Assert.Equal(0, Processes.Run("cp", ["-a", good, replica]).ExitCode);
            breakIt(replica);
            ProcessResult r = VfsHost.Sqlite3($"file:app.db?vfs=litestream&replica=file://{replica}", "SELECT count(*) FROM t;");
            _output.WriteLine($"{name}: exit {r.ExitCode}\n{r.Stdout}{r.Stderr}");
            Assert.True(r.Stdout.Length == 0, $"{name}: served {r.Stdout}");
            Assert.Contains(code, r.Stderr);
            Assert.Contains($"litestream-vfs: open app.db: {cause}", r.Stderr);
        }
    }

    [RequiresFact(Need.Exe, Need.VfsExtension, Need.ExtensionPython)]
    public void UnreachableS3Endpoint_IsSqliteIoErrWithTheCause_WithinSeconds()
    {
        // A loopback port nothing listens on: every connect is refused at once, so the time is the VFS's
        // retry schedule (one retry), not a network's.
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        int port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        string uri = $"file:app.db?vfs=litestream&replica=s3://bucket/app?endpoint=http://127.0.0.1:{port}";
        var env = new Dictionary<string, string?>
        {
            ["AWS_ACCESS_KEY_ID"] = "vfs-test",
            ["AWS_SECRET_ACCESS_KEY"] = "vfs-test-secret",
            ["AWS_EC2_METADATA_DISABLED"] = "true",
        };

        var clock = System.Diagnostics.Stopwatch.StartNew();
        ProcessResult python = VfsHost.Run(Prerequisites.ExtensionPython!, ["-c", VfsHost.PythonPrelude + """
            t = time.monotonic()
            try:
                c = sqlite3.connect(sys.argv[1], uri=True)
                c.execute("SELECT count(*) FROM sqlite_master").fetchone()
                print("no error")
            except sqlite3.Error as e:
                print("%.3f|%s|%d|%s|%s" % (time.monotonic() - t, type(e).__name__, e.sqlite_errorcode, e.sqlite_errorname, e))
            """, uri], env);
        TimeSpan pythonWall = clock.Elapsed;
        clock.Restart();
        ProcessResult cli = VfsHost.Run("sqlite3", [":memory:", $".load {VfsHost.SoPath}", $".open {uri}", "SELECT count(*) FROM sqlite_master;"], env);
        TimeSpan cliWall = clock.Elapsed;
        _output.WriteLine($"python3 ({pythonWall.TotalSeconds:F2} s): {python.Stdout}{python.Stderr}");
        _output.WriteLine($"sqlite3 ({cliWall.TotalSeconds:F2} s): {cli.Stdout}{cli.Stderr}");

        Assert.Equal(0, python.ExitCode);
        string[] f = python.Stdout.Trim().Split('|');
        Assert.Equal(["OperationalError", "10", "SQLITE_IOERR", "disk I/O error"], f[1..]);
        Assert.True(double.Parse(f[0], CultureInfo.InvariantCulture) < 20, $"the error took {f[0]} s");
        Assert.Contains($"litestream-vfs: open app.db: s3: list s3://bucket/app/0000/: Connection refused (127.0.0.1:{port})", python.Stderr);
        Assert.True(pythonWall < TimeSpan.FromSeconds(20), $"python3 ran {pythonWall}");

        Assert.InRange(cli.ExitCode, 0, 1);
        Assert.Contains("disk I/O error", cli.Stderr);
        Assert.Contains("Connection refused", cli.Stderr);
        Assert.True(cliWall < TimeSpan.FromSeconds(20), $"sqlite3 ran {cliWall}");
    }

    [RequiresFact(Need.Exe, Need.VfsExtension, Need.ExtensionPython)]
    public void Extension_ExportsEntryPoints_AndHasNoSqliteOfItsOwn()
    {
        ProcessResult nm = VfsHost.Run("nm", ["-D", "--defined-only", VfsHost.SoPath]);
        Assert.Equal(0, nm.ExitCode);
        string[] symbols = [.. nm.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')[^1].Split('@')[0])];
        Assert.Contains("sqlite3_extension_init", symbols);
        Assert.Contains("sqlite3_litestreamvfs_init", symbols);
        Assert.DoesNotContain(symbols, s => s is "sqlite3_open_v2" or "sqlite3_prepare_v2" or "sqlite3_vfs_register");
        // Loaded by file name alone, SQLite derives sqlite3_litestreamvfs_init.
        ProcessResult load = VfsHost.Run("sqlite3", [":memory:", $".load {VfsHost.SoPath[..^3]}", "SELECT name FROM pragma_function_list WHERE name LIKE 'litestream%' ORDER BY name;"]);
        Assert.Equal("litestream_lag\nlitestream_set_time\nlitestream_time\nlitestream_txid", load.Stdout.Trim());
    }
}
