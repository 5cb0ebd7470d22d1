using System.Globalization;
using Litestream.Aot.Tests.Cli;
using Xunit.Abstractions;

namespace Litestream.Aot.Tests.Vfs;

/// <summary>
/// Write mode of litestream-vfs.so (<c>LITESTREAM_WRITE_ENABLED=true</c>, as upstream) in python3 processes on one
/// file replica: one writer at a time under the replica's lease, <c>litestream replicate</c> refused by it, restore
/// equal to what the writer committed, and a kill -9 that loses at most the commits not yet uploaded.
/// </summary>
[Requires(Need.Python)]
public class VfsWriteModeExtensionTests(ITestOutputHelper output)
{
    private static Dictionary<string, string?> WriteEnv(string dir) => new()
    {
        ["LITESTREAM_WRITE_ENABLED"] = "true",
        ["LITESTREAM_SYNC_INTERVAL"] = "100ms",
        ["LITESTREAM_BUFFER_PATH"] = Path.Combine(dir, "buffer-" + Guid.NewGuid().ToString("N")),
        ["LITESTREAM_LOG_LEVEL"] = "info",
    };

    [RequiresFact(Need.Exe, Need.VfsExtension, Need.ExtensionPython)]
    public void TwoWriterProcesses_OneWrites_TheOtherAndReplicateAreRefused_Kill9LosesOnlyTheUnsyncedBuffer()
    {
        string dir = TestRepo.TempDir();
        string replica = Path.Combine(dir, "replica");
        string url = "file://" + replica;

        // The first writer creates the database on the empty replica and commits one row per transaction until killed.
        using var first = new BackgroundProcess(Prerequisites.ExtensionPython!, ["-c", VfsHost.PythonPrelude + """
            c = open_replica(sys.argv[1])
            print("write_enabled", c.execute("PRAGMA litestream_write_enabled").fetchone()[0], flush=True)
            c.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
            i = 0
            while True:
                i += 1
                c.execute("INSERT INTO t(id, v) VALUES (?, ?)", (i, "row %d" % i))
                print("committed", i, flush=True)
                time.sleep(0.01)
            """, url], WriteEnv(dir));
        Wait.Until(() => first.Output.Contains("committed 30\n", StringComparison.Ordinal), "the first writer to commit", first);
        Assert.Contains("write_enabled 1\n", first.Output, StringComparison.Ordinal);

        // A second writer process: its write transaction is refused (SQLITE_BUSY), reads work.
        string second = VfsHost.Run(Prerequisites.ExtensionPython!, ["-c", VfsHost.PythonPrelude + """
            c = sqlite3.connect("file:app.db?vfs=litestream&replica=%s" % sys.argv[1], uri=True, isolation_level=None, timeout=0.5)
            print("rows", c.execute("SELECT count(*) > 0 FROM t").fetchone()[0])
            try:
                c.execute("INSERT INTO t(v) VALUES ('second')")
                print("inserted")
            except sqlite3.OperationalError as e:
                print("refused", e)
            """, url], WriteEnv(dir)).Stdout;
        Assert.Equal("rows 1\nrefused database is locked\n", second);

        // replicate of another database to the same replica is refused by the lease the VFS writer holds.
        string other = Path.Combine(dir, "other.db");
        SqliteWriter.Write(other, 5);
        string config = Path.Combine(dir, "litestream.yml");
        File.WriteAllText(config, $"dbs:\n  - path: {other}\n    lease:\n      enabled: true\n    replica:\n      url: {url}\n");
        ProcessResult refused = Exe.Run("replicate", "-config", config);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains($"error: lease {url}/lease.json is held by host {Environment.MachineName} pid {first.Pid} until ", refused.Stderr, StringComparison.Ordinal);

        first.Kill(); // SIGKILL: commits still in the buffer are lost, the replica keeps a committed state
        int committed = first.Output.Split('\n').Where(l => l.StartsWith("committed ", StringComparison.Ordinal)).Select(l => int.Parse(l[10..], CultureInfo.InvariantCulture)).Max();
        string restored = Path.Combine(dir, "restored.db");
        ProcessResult r = Exe.Run("restore", "-o", restored, url);
        Assert.True(r.ExitCode == 0, r.Stderr);
        string check = Processes.RunOk("python3", ["-c", """
            import sqlite3, sys
            c = sqlite3.connect(sys.argv[1])
            n, lo, hi = c.execute("SELECT count(*), min(id), max(id) FROM t").fetchone()
            print(n, lo, hi, c.execute("PRAGMA integrity_check").fetchone()[0])
            """, restored]);
        output.WriteLine($"killed after {committed} commits; the replica restores {check.Trim()}");
        string[] f = check.Trim().Split(' ');
        int rows = int.Parse(f[0], CultureInfo.InvariantCulture);
        Assert.True(rows >= 30 && rows <= committed, $"{rows} rows restored of {committed} committed");
        Assert.Equal(["1", rows.ToString(CultureInfo.InvariantCulture), "ok"], f[1..]); // a prefix of the commits: rows 1..n, nothing torn
    }

    [RequiresFact(Need.Exe, Need.VfsExtension, Need.ExtensionPython)]
    public void WriterProcess_ClosesCleanly_RestoreEqualsEverythingItCommitted_LatencyMeasured()
    {
        string dir = TestRepo.TempDir();
        string replica = Path.Combine(dir, "replica");
        string url = "file://" + replica;
        // Commit-to-replica latency: from a commit's return until the replica lists one more L0 file.
        string result = VfsHost.Run(Prerequisites.ExtensionPython!, ["-c", VfsHost.PythonPrelude + """
            l0 = os.path.join(sys.argv[2], "ltx", "0")
            def files():
                return len(os.listdir(l0)) if os.path.isdir(l0) else 0
            c = open_replica(sys.argv[1])
            c.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
            lat = []
            for i in range(1, 201):
                before = files()
                c.execute("INSERT INTO t(v) VALUES (?)", ("value %d " % i * 20,))
                if i % 20 == 0:
                    t = time.time()
                    while files() == before and time.time() - t < 30:
                        time.sleep(0.002)
                    lat.append((time.time() - t) * 1000)
            print("latency_ms", " ".join("%.0f" % x for x in lat))
            c.close()
            print("closed")
            """, url, replica], WriteEnv(dir)).Stdout;
        output.WriteLine(result);
        Assert.EndsWith("closed\n", result, StringComparison.Ordinal);
        string restored = Path.Combine(dir, "restored.db");
        ProcessResult r = Exe.Run("restore", "-o", restored, url);
        Assert.True(r.ExitCode == 0, r.Stderr);
        string check = Processes.RunOk("python3", ["-c", """
            import sqlite3, sys
            c = sqlite3.connect(sys.argv[1])
            print(c.execute("SELECT count(*), sum(length(v)) FROM t").fetchone(), c.execute("PRAGMA integrity_check").fetchone()[0])
            """, restored]);
        int expectedLength = Enumerable.Range(1, 200).Sum(i => $"value {i} ".Length * 20);
        Assert.Equal($"(200, {expectedLength}) ok\n", check);
        // The last close released the lease: a replicate is not refused by it.
        Assert.Contains("\"released\":true", File.ReadAllText(Path.Combine(replica, "lease.json")), StringComparison.Ordinal);
    }
}
