using System.Text.Json;
using System.Text.RegularExpressions;

namespace Litestream.Aot.Tests.Cli;

/// <summary>
/// Every observability surface lists each replica (issue 26): a database with two file replicas, the second under a
/// path that is a regular file so every upload to it fails (ENOTDIR, even as root), through the published exe.
/// </summary>
[Requires(Need.Exe, Need.Python)]
public class MultiReplicaObservabilityTests
{
    [RequiresFact]
    public async Task Replicate_TwoReplicasOneFailing_StatusDatabasesListInfoAndMetricsShowEachReplica()
    {
        string dir = TestRepo.TempDir();
        string db = Path.Combine(dir, "app.db");
        string good = Path.Combine(dir, "replica");
        File.WriteAllText(Path.Combine(dir, "not-a-dir"), "");
        string broken = Path.Combine(dir, "not-a-dir", "replica");
        string socket = Path.Combine(dir, "ls.sock");
        string config = Path.Combine(dir, "litestream.yml");
        int port = LocalServer.FreePort();
        File.WriteAllText(config, $$"""
            addr: 127.0.0.1:{{port}}
            socket: {enabled: true, path: {{socket}}}
            dbs:
              - path: {{db}}
                replicas:
                  - {name: good, path: {{good}}}
                  - {name: broken, path: {{broken}}, sync-interval: 100ms}

            """);
        SqliteWriter.Write(db, 5);
        using BackgroundProcess replicate = Exe.Start("replicate", "-config", config);
        // Settled: the good replica holds the newest local TXID and the broken one has failed, as status reads them.
        string statusJson = Wait.For(() =>
        {
            string stdout = Exe.Run("status", "-json", "-config", config).Stdout;
            using JsonDocument doc = JsonDocument.Parse(stdout);
            JsonElement row = doc.RootElement[0];
            // Before the process reported a replica its state is absent.
            static string? State(JsonElement replica) => replica.TryGetProperty("state", out JsonElement v) ? v.GetString() : null;
            return row.TryGetProperty("replicas", out JsonElement r) && State(r[0]) == "ok"
                && r[0].GetProperty("replica_txid").GetString() == row.GetProperty("local_txid").GetString()
                && State(r[1]) == "error" ? stdout : null;
        }, "good to hold the newest TXID and broken to fail", replicate)!;
        using JsonDocument statusDoc = JsonDocument.Parse(statusJson);
        JsonElement status = statusDoc.RootElement[0];
        string local = status.GetProperty("local_txid").GetString()!;
        ulong localValue = Convert.ToUInt64(local, 16);
        string brokenError = $"upload failing since \\d{{4}}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ \\(\\d+ attempts\\): Could not find a part of the path '{Regex.Escape(broken)}/";

        // status -json: the database is "error" (its worst replica), each replica on its own.
        Assert.Equal((db, "error", false), (status.GetProperty("database").GetString(), status.GetProperty("status").GetString(), status.TryGetProperty("error", out _)));
        JsonElement[] replicas = [.. status.GetProperty("replicas").EnumerateArray()];
        Assert.Equal(2, replicas.Length);
        Assert.Equal(("good", "file", local, "ok", 0UL, 0.0, false),
            (replicas[0].GetProperty("name").GetString(), replicas[0].GetProperty("type").GetString(), replicas[0].GetProperty("replica_txid").GetString(),
             replicas[0].GetProperty("state").GetString(), replicas[0].GetProperty("txids_behind").GetUInt64(), replicas[0].GetProperty("lag_seconds").GetDouble(), replicas[0].TryGetProperty("error", out _)));
        Assert.Equal(("broken", "file", "0000000000000000", "error", localValue),
            (replicas[1].GetProperty("name").GetString(), replicas[1].GetProperty("type").GetString(), replicas[1].GetProperty("replica_txid").GetString(),
             replicas[1].GetProperty("state").GetString(), replicas[1].GetProperty("txids_behind").GetUInt64()));
        Assert.Matches("^" + brokenError, replicas[1].GetProperty("error").GetString());

        // status: upstream's columns, the lag, then replica, type, replica txid; a row per replica; the error names the replica.
        string[] lines = Exe.Run("status", "-config", config).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["database", "status", "local txid", "wal size", "lag", "replica", "type", "replica txid"], Cells(lines[0]));
        string[] goodRow = Cells(lines[1]);
        Assert.Equal([db, "ok", local], goodRow[..3]);
        Assert.Equal(["0s", "good", "file", local], goodRow[4..]);
        string[] brokenRow = Cells(lines[2]);
        Assert.Equal([db, "error", local], brokenRow[..3]);
        Assert.Equal(["broken", "file", "0000000000000000"], brokenRow[5..]);
        Assert.Equal(4, lines.Length);
        Assert.Matches($"^{Regex.Escape(db)} \\(replica broken\\): {brokenError}", lines[3]);

        // databases: a row per replica with its type, TXID and state; -json the same, with the error.
        string[] dbLines = Exe.Run("databases", "-config", config).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["path", "replica", "lag", "type", "replica txid", "state"], Cells(dbLines[0]));
        Assert.Equal([db, "good: " + good, "0s", "file", local, "ok"], Cells(dbLines[1]));
        string[] brokenDb = Cells(dbLines[2]);
        Assert.Equal([db, "broken: " + broken], brokenDb[..2]);
        Assert.Equal(["file", "0000000000000000", "error"], brokenDb[3..]);
        Assert.Matches($"^{Regex.Escape(db)} \\(replica broken\\): {brokenError}", dbLines[3]);
        using (JsonDocument databases = JsonDocument.Parse(Exe.Run("databases", "-json", "-config", config).Stdout))
        {
            JsonElement d0 = databases.RootElement[0], d1 = databases.RootElement[1];
            Assert.Equal(("good", "file", local, "ok", false), (d0.GetProperty("name").GetString(), d0.GetProperty("type").GetString(), d0.GetProperty("replica_txid").GetString(), d0.GetProperty("state").GetString(), d0.TryGetProperty("error", out _)));
            Assert.Equal(("broken", "file", "0000000000000000", "error"), (d1.GetProperty("name").GetString(), d1.GetProperty("type").GetString(), d1.GetProperty("replica_txid").GetString(), d1.GetProperty("state").GetString()));
            Assert.Matches("^" + brokenError, d1.GetProperty("error").GetString());
        }

        // Control socket: /list and /info keep upstream's fields and add each replica.
        using (JsonDocument list = JsonDocument.Parse(Exe.Run("list", "-json", "-socket", socket).Stdout))
        {
            JsonElement entry = list.RootElement.GetProperty("databases")[0];
            Assert.Equal(["path", "status", "last_sync_at", "replicas"], entry.EnumerateObject().Select(p => p.Name));
            Assert.Equal((db, "replicating"), (entry.GetProperty("path").GetString(), entry.GetProperty("status").GetString()));
            AssertControlReplicas(entry.GetProperty("replicas"), localValue, broken);
        }
        using (JsonDocument info = JsonDocument.Parse(Exe.Run("info", "-socket", socket).Stdout))
        {
            Assert.Equal(["version", "pid", "uptime_seconds", "started_at", "database_count", "databases"], info.RootElement.EnumerateObject().Select(p => p.Name));
            JsonElement entry = info.RootElement.GetProperty("databases")[0];
            Assert.Equal(db, entry.GetProperty("path").GetString());
            AssertControlReplicas(entry.GetProperty("replicas"), localValue, broken);
        }
        string[] listText = Exe.Run("list", "-socket", socket).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, listText.Length);
        Assert.Equal($"  replica good (file) [ok] txid {local}, 0 behind", listText[1]);
        Assert.StartsWith($"  replica broken (file) [error] txid 0000000000000000, {localValue} behind: Could not find a part of the path '{broken}/", listText[2]);

        // Metrics: litestream_replica_behind per replica; upstream-named series carry the replica label; no
        // validation_ok series before a validation ran.
        using var http = new HttpClient();
        string metrics = await http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/metrics"));
        string labels(string name) => $"{{db=\"{db}\",replica=\"{name}\"}}";
        Assert.Contains($"\nlitestream_replica_behind{labels("good")} 0\n", metrics);
        Assert.Contains($"\nlitestream_replica_behind{labels("broken")} {localValue}\n", metrics);
        Assert.Contains($"\nlitestream_replica_txid{labels("good")} {localValue}\n", metrics);
        Assert.Contains($"\nlitestream_replica_txid{labels("broken")} 0\n", metrics);
        Assert.Contains($"\nlitestream_replica_sync_age_seconds{labels("good")} 0\n", metrics);
        Assert.DoesNotContain("\nlitestream_validation_ok{", metrics);

        Assert.NotEqual(0, replicate.Stop()); // the final sync cannot reach broken
    }

    private static void AssertControlReplicas(JsonElement replicas, ulong local, string broken)
    {
        JsonElement[] r = [.. replicas.EnumerateArray()];
        Assert.Equal(2, r.Length);
        Assert.Equal(["name", "type", "txid", "state", "txids_behind"], r[0].EnumerateObject().Select(p => p.Name));
        Assert.Equal(("good", "file", local, "ok", 0UL), (r[0].GetProperty("name").GetString(), r[0].GetProperty("type").GetString(), r[0].GetProperty("txid").GetUInt64(), r[0].GetProperty("state").GetString(), r[0].GetProperty("txids_behind").GetUInt64()));
        Assert.Equal(("broken", "file", 0UL, "error", local), (r[1].GetProperty("name").GetString(), r[1].GetProperty("type").GetString(), r[1].GetProperty("txid").GetUInt64(), r[1].GetProperty("state").GetString(), r[1].GetProperty("txids_behind").GetUInt64()));
        Assert.StartsWith($"Could not find a part of the path '{broken}/", r[1].GetProperty("last_error").GetString(), StringComparison.Ordinal);
    }

    /// <summary>A text table's cells: columns are separated by two spaces or more.</summary>
    private static string[] Cells(string line) => Regex.Split(line.TrimEnd(), " {2,}");
}
