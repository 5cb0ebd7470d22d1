using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using Microsoft.Data.Sqlite;

namespace Litestream.Client.Tests;

/// <summary>
/// Write forwarding with two nodes on this machine, each in its own directory and processes: the primary (replicate
/// with the TCP control API, and its own python3 writer) and a replica node (a follower copy kept by restore -f, and
/// this test as its application, through Litestream.Client over TCP).
/// </summary>
[Requires(Need.Python)]
public sealed class ForwardingTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const string Token = "forwarding-token";

    /// <summary>
    /// The replica node creates a table and inserts rows through WithHaltAsync while the primary's writer keeps
    /// writing: the primary holds both and passes integrity_check, the follower copy sees the result, nothing the
    /// writer committed is lost, and the writer saw only waits, never a busy error. A function that throws forwards
    /// nothing; a page set made at another TXID is refused with nothing applied; unauthenticated requests are refused.
    /// </summary>
    [RequiresFact(Need.Exe)]
    public async Task WithHalt_FromAReplicaNode_IsAppliedOnThePrimary()
    {
        string dir = TestRepo.TempDir();
        using var primary = new Node(Path.Combine(dir, "primary"), token: Token);
        string log = Path.Combine(dir, "primary", "commits.log"), stop = Path.Combine(dir, "primary", "stop");
        using BackgroundProcess writer = SqliteWriter.Start(primary.Database, new Workload { Start = 1000, Log = log, StopFile = stop, Pause = 0.01, BusyTimeoutMs = 30_000 });

        string copy = Path.Combine(dir, "replica-node", "app.db");
        Directory.CreateDirectory(Path.GetDirectoryName(copy)!);
        using var follower = new BackgroundProcess(TestRepo.Exe!, ["restore", "-f", "-follow-interval", "50ms", "-o", copy, "file://" + primary.Replica]);
        Wait.Until(() => File.Exists(copy + "-txid"), "the follower copy", follower);
        Wait.Until(() => File.Exists(log) && File.ReadAllLines(log).Length >= 20, "the primary's writer", writer);

        var options = new LitestreamClientOptions { Address = primary.Address, Token = Token };
        options.FollowerCopies[primary.Database] = copy;
        using var client = new LitestreamClient(options);
        ulong created = await client.WithHaltAsync(primary.Database, async db =>
        {
            using SqliteCommand command = db.CreateCommand();
            command.CommandText = "CREATE TABLE forwarded (id INTEGER PRIMARY KEY, v TEXT NOT NULL); "
                + string.Join(' ', Enumerable.Range(1, 50).Select(i => $"INSERT INTO forwarded (v) VALUES ('row {i} from the replica node');"));
            await command.ExecuteNonQueryAsync();
        });
        Assert.Equal("50", SqliteWriter.Scalar(primary.Database, "SELECT count(*) FROM forwarded"));
        Assert.Equal("50", SqliteWriter.Scalar(copy, "SELECT count(*) FROM forwarded"));

        var latencies = new List<double>();
        for (int i = 51; i <= 55; i++)
        {
            var clock = Stopwatch.StartNew();
            await client.WithHaltAsync(primary.Database, async db =>
            {
                using SqliteCommand insert = db.CreateCommand();
                insert.CommandText = $"INSERT INTO forwarded (v) VALUES ('row {i} from the replica node')";
                await insert.ExecuteNonQueryAsync();
            });
            latencies.Add(clock.Elapsed.TotalMilliseconds);
        }
        output.WriteLine($"forwarding latency, one one-row transaction (halt, copy at txid, run, forward, apply, replicate, copy caught up): {string.Join(", ", latencies.Select(l => $"{l:0} ms"))}");

        var failed = await Assert.ThrowsAsync<InvalidOperationException>(() => client.WithHaltAsync(primary.Database, async db =>
        {
            using SqliteCommand insert = db.CreateCommand();
            insert.CommandText = "INSERT INTO forwarded (v) VALUES ('never')";
            await insert.ExecuteNonQueryAsync();
            throw new InvalidOperationException("the function failed");
        }));
        Assert.Equal("the function failed", failed.Message);

        // A page set made at another TXID: refused, nothing applied, the halt kept until unhalted.
        Halt halt = await client.HaltAsync(primary.Database, TimeSpan.FromSeconds(30));
        using (var http = new HttpClient())
        {
            string body = $"{{\"path\":\"{primary.Database}\",\"id\":\"{halt.Id}\",\"txid\":{halt.Txid - 1},\"commit\":1000,\"pages\":[{{\"pgno\":2,\"data\":\"{Convert.ToBase64String(new byte[4096])}\"}}]}}";
            using var stale = new HttpRequestMessage(HttpMethod.Post, new Uri(primary.Address!, "/forward")) { Content = new StringContent(body) };
            stale.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
            using HttpResponseMessage refused = await http.SendAsync(stale);
            Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
            Assert.Equal($"{{\"error\":\"page set made at txid {halt.Txid - 1:x16} but {primary.Database} is at txid {halt.Txid:x16}: nothing applied\"}}\n", await refused.Content.ReadAsStringAsync());

            using HttpResponseMessage anonymous = await http.PostAsync(new Uri(primary.Address!, "/forward"), new StringContent(body.Replace($"{halt.Txid - 1}", $"{halt.Txid}", StringComparison.Ordinal)));
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        }
        await client.UnhaltAsync(primary.Database);

        Wait.Until(() => File.ReadAllLines(log).Length >= 100, "the writer to go on", writer);
        File.WriteAllText(stop, "");
        string[] summary = writer.WaitForSuccess(Wait.DefaultCeiling).Trim().Split('\n')[^1].Split(' ');
        output.WriteLine($"primary's writer: {summary[0]} commits, {summary[1]} busy errors, slowest commit {summary[2]} s");
        Assert.Equal("0", summary[1]);

        string[] check = SqliteWriter.Check(primary.Database, log);
        Assert.Equal(("ok", "0", "0"), (check[0], check[2], check[3]));
        Assert.Equal(("55", "0"), (SqliteWriter.Scalar(primary.Database, "SELECT count(*) FROM forwarded"), SqliteWriter.Scalar(primary.Database, "SELECT count(*) FROM forwarded WHERE v = 'never'")));
        // A function that writes nothing: the halt syncs everything the writer committed, the copy is brought to it, nothing is forwarded.
        ulong final = await client.WithHaltAsync(primary.Database, _ => Task.CompletedTask);
        Assert.True(Convert.ToUInt64(File.ReadAllText(copy + "-txid").Trim(), 16) >= final);
        Assert.Equal(SqliteWriter.Scalar(primary.Database, "SELECT count(*) FROM t") + " 55 ok", string.Join(' ',
            SqliteWriter.Scalar(copy, "SELECT count(*) FROM t"), SqliteWriter.Scalar(copy, "SELECT count(*) FROM forwarded"), SqliteWriter.Scalar(copy, "PRAGMA integrity_check")));
        Assert.True(created > 0);
    }
}
