using System.Diagnostics;
using Microsoft.Data.Sqlite;

namespace Litestream.Client.Tests;

/// <summary>
/// POST /halt and /unhalt through the client, with the application's writer (python3 sqlite3, busy timeout set) in
/// another process: a halt makes it wait, never fail; a halt held past its timeout is released by the daemon.
/// </summary>
[Requires(Need.Python)]
public sealed class HaltTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly TimeSpan Hold = TimeSpan.FromSeconds(1.5);

    /// <summary>
    /// While halted nothing commits and the replica holds the TXID the halt answered; after unhalt the writer goes on,
    /// and it saw only waits (no busy error) as long as the halt at least.
    /// </summary>
    [RequiresFact(Need.Exe)]
    public async Task Halt_WriterWaits_ThenUnhalt_WriterGoesOn()
    {
        string dir = TestRepo.TempDir();
        using var node = new Node(dir);
        using var client = new LitestreamClient(node.Socket);
        string log = Path.Combine(dir, "commits.log"), stop = Path.Combine(dir, "stop");
        using BackgroundProcess writer = SqliteWriter.Start(node.Database, new Workload { Start = 100, Log = log, StopFile = stop, Pause = 0.005, BusyTimeoutMs = 30_000 });
        Wait.Until(() => Commits(log) >= 20, "the writer's first commits", writer);

        var halting = Stopwatch.StartNew();
        Halt halt = await client.HaltAsync(node.Database, TimeSpan.FromSeconds(30));
        output.WriteLine($"halt answered in {halting.Elapsed.TotalMilliseconds:0} ms at txid {halt.Txid}");
        int atHalt = Commits(log);
        string rowsAtHalt = SqliteWriter.Scalar(node.Database, "SELECT count(*) FROM t");
        Assert.Equal(node.ReplicaTxid(), halt.Txid);
        await Task.Delay(Hold); // the halt is held this long: the scenario, not a wait for a condition
        Assert.Equal((atHalt, rowsAtHalt), (Commits(log), SqliteWriter.Scalar(node.Database, "SELECT count(*) FROM t")));
        var second = await Assert.ThrowsAsync<LitestreamClientException>(() => new LitestreamClient(node.Socket).HaltAsync(node.Database));
        Assert.Equal((409, $"database {node.Database} is halted until {halt.ExpiresAt.UtcDateTime:yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'}"), (second.Status, second.Message));

        Assert.True(await client.UnhaltAsync(node.Database) >= halt.Txid);
        Wait.Until(() => Commits(log) >= atHalt + 20, "the writer to go on after unhalt", writer);
        File.WriteAllText(stop, "");
        string[] summary = writer.WaitForSuccess(Wait.DefaultCeiling).Trim().Split('\n')[^1].Split(' ');
        output.WriteLine($"writer: {string.Join(' ', summary)} (commits, busy errors, slowest commit s)");
        Assert.Equal("0", summary[1]);
        Assert.True(double.Parse(summary[2], System.Globalization.CultureInfo.InvariantCulture) >= Hold.TotalSeconds * 0.9, $"slowest commit {summary[2]} s: the writer did not wait for the halt");
        await Assert.ThrowsAsync<InvalidOperationException>(() => client.UnhaltAsync(node.Database));
        Assert.Equal("ok", SqliteWriter.Scalar(node.Database, "PRAGMA integrity_check"));
    }

    /// <summary>A halt held past its timeout is released by the daemon: a waiting writer commits, unhalting after is a 404.</summary>
    [RequiresFact(Need.Exe)]
    public async Task Halt_PastItsTimeout_IsReleased()
    {
        using var node = new Node(TestRepo.TempDir());
        using var client = new LitestreamClient(node.Socket);
        Halt halt = await client.HaltAsync(node.Database, TimeSpan.FromSeconds(1));
        Assert.InRange(halt.ExpiresAt - DateTimeOffset.UtcNow, TimeSpan.Zero, TimeSpan.FromSeconds(1));
        var waited = Stopwatch.StartNew();
        SqliteWriter.Write(node.Database, new Workload { Commits = 1, Start = 50, BusyTimeoutMs = 60_000 });
        Assert.True(waited.Elapsed > halt.ExpiresAt - DateTimeOffset.UtcNow - TimeSpan.FromMilliseconds(200), $"committed after {waited.Elapsed}, before the halt expired");
        var gone = await Assert.ThrowsAsync<LitestreamClientException>(() => client.UnhaltAsync(node.Database));
        Assert.Equal((404, $"database not halted: {node.Database}"), (gone.Status, gone.Message));
        Assert.Contains($"halt {halt.Id} released: held past its timeout", node.Process.Output, StringComparison.Ordinal);
    }

    /// <summary>WithHaltAsync commits the function's writes as one transaction and returns once the replica holds it; a function that throws writes nothing.</summary>
    [RequiresFact(Need.Exe)]
    public async Task WithHalt_CommitsAndReplicates_AThrowWritesNothing()
    {
        using var node = new Node(TestRepo.TempDir());
        using var client = new LitestreamClient(node.Socket);
        ulong txid = await client.WithHaltAsync(node.Database, async db =>
        {
            using SqliteCommand create = db.CreateCommand();
            create.CommandText = "CREATE TABLE migrated (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO migrated (v) VALUES ('a'), ('b');";
            await create.ExecuteNonQueryAsync();
        });
        Assert.True(node.ReplicaTxid() >= txid, $"replica {node.ReplicaTxid()} < {txid}");
        Assert.Equal("2", SqliteWriter.Scalar(node.Database, "SELECT count(*) FROM migrated"));

        var thrown = await Assert.ThrowsAsync<InvalidOperationException>(() => client.WithHaltAsync(node.Database, async db =>
        {
            using SqliteCommand insert = db.CreateCommand();
            insert.CommandText = "INSERT INTO migrated (v) VALUES ('c'); CREATE TABLE never (x);";
            await insert.ExecuteNonQueryAsync();
            throw new InvalidOperationException("the migration failed");
        }));
        Assert.Equal("the migration failed", thrown.Message);
        Assert.Equal(("2", "0"), (SqliteWriter.Scalar(node.Database, "SELECT count(*) FROM migrated"), SqliteWriter.Scalar(node.Database, "SELECT count(*) FROM sqlite_master WHERE name = 'never'")));
    }

    private static int Commits(string log) => File.Exists(log) ? File.ReadAllLines(log).Length : 0;
}
