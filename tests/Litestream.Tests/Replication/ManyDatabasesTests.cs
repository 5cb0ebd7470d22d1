using System.Collections.Concurrent;
using System.Text;
using Litestream.Replication;
using Litestream.Restore;
using Litestream.Storage;
using Litestream.Storage.File;
using Litestream.Tests.Fixtures;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace Litestream.Tests.Replication;

/// <summary>
/// Issue 21's scale test (part of the normal suite, not timed): 1 000 databases in one Store, each replicated to a
/// file replica and to s3rver, 50 of them written concurrently by writer processes while 10 databases join and 10
/// leave; every database then restores from both replicas equal to its source (a removed one equal to what it held
/// when it left).
/// </summary>
[Collection("s3rver")]
[Requires(Need.Python)]
public sealed class ManyDatabasesTests(S3rverFixture s3)
{
    private const int Databases = 1000;
    private const int Written = 50;
    private const int Churn = 10;

    private static readonly DbOptions s_options = new()
    {
        MonitorInterval = TimeSpan.FromMilliseconds(250),
        IdleConnectionTimeout = TimeSpan.FromSeconds(2),
    };

    private static readonly ReplicaOptions s_replica = new() { SyncInterval = TimeSpan.FromMilliseconds(250) };

    private static string ConnectionString(string path, SqliteOpenMode mode) =>
        new SqliteConnectionStringBuilder { DataSource = path, Mode = mode, Pooling = false }.ToString();

    /// <summary>A WAL database with the writer fixture's table and one row, made in this process (1 000 python starts would take minutes).</summary>
    private static void Create(string path)
    {
        using var connection = new SqliteConnection(ConnectionString(path, SqliteOpenMode.ReadWriteCreate));
        connection.Open();
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode=wal; CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t(v) VALUES ('first');";
        command.ExecuteNonQuery();
    }

    /// <summary>Every row of t, in order: what a restore must reproduce.</summary>
    private static string Rows(string path)
    {
        using var connection = new SqliteConnection(ConnectionString(path, SqliteOpenMode.ReadOnly));
        connection.Open();
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "SELECT id, v FROM t ORDER BY id";
        using SqliteDataReader reader = command.ExecuteReader();
        var rows = new StringBuilder();
        while (reader.Read())
        {
            rows.Append(reader.GetInt64(0)).Append('|').Append(reader.GetString(1)).Append('\n');
        }
        return rows.ToString();
    }

    private (Replica File, Replica S3) Replicas(string path, string dir, string prefix)
    {
        var db = new Db(path, s_options);
        string name = Path.GetFileName(path);
        return (new Replica(db, new FileReplicaClient(Path.Combine(dir, "replica", name)), s_replica),
            new Replica(db, s3.Client($"{prefix}/{name}"), s_replica));
    }

    private static async Task<string> Restored(IReplicaClient client, string dir)
    {
        string output = Path.Combine(dir, "restored", $"{Guid.NewGuid():N}.db");
        await Restorer.RestoreAsync(client, new RestoreOptions { OutputPath = output }, default);
        return Rows(output);
    }

    private static bool CaughtUp((Replica File, Replica S3) r) =>
        r.File.RemoteTxid is { } f && f == r.File.Db.Txid && r.S3.RemoteTxid is { } s && s == r.S3.Db.Txid;

    [RequiresFact(Need.S3rver)]
    public async Task Store_ThousandDatabasesTwoReplicas_FiftyWrittenWhileOthersComeAndGo_EveryOneRestoresEqual()
    {
        string dir = TestRepo.TempDir();
        string dbs = Path.Combine(dir, "dbs");
        Directory.CreateDirectory(dbs);
        Directory.CreateDirectory(Path.Combine(dir, "restored"));
        string prefix = S3rverFixture.NewPath("many");
        string[] paths = [.. Enumerable.Range(0, Databases).Select(i => Path.Combine(dbs, $"tenant{i:D4}.db"))];
        foreach (string path in paths)
        {
            Create(path);
        }
        var replicas = paths.ToDictionary(p => p, p => Replicas(p, dir, prefix));
        var logs = new CapturingLogger();
        var store = new Store(replicas.Values.SelectMany(r => new[] { r.File, r.S3 }), new StoreOptions
        {
            MaxConcurrentCompactions = 2,
            // A leaving database's last upload waits in a busy machine's s3rver queue behind a thousand others' requests.
            ShutdownSyncTimeout = TimeSpan.FromMinutes(5),
        }, logs);
        using var stop = new CancellationTokenSource();
        Task run = store.RunAsync(stop.Token);
        await Wait.UntilAsync(() => replicas.Values.All(r => r.File.RemoteTxid is not null && r.S3.RemoteTxid is not null),
            "every database's first snapshot on both replicas", TimeSpan.FromMinutes(10));

        // 50 writer processes, one per database, while 10 new databases join and 10 others leave.
        string[] written = [.. paths.Take(Written)];
        var writers = written.Select((p, i) => SqliteWriter.Start(p, new Workload { Commits = 40, Start = 1000 * (i + 1), Pause = 0.01 })).ToList();
        try
        {
            string[] added = [.. Enumerable.Range(0, Churn).Select(i => Path.Combine(dbs, $"new{i:D2}.db"))];
            foreach (string path in added)
            {
                Create(path);
                replicas[path] = Replicas(path, dir, prefix);
                Assert.True(await store.RegisterReplicasAsync([replicas[path].File, replicas[path].S3]));
            }
            var removedRows = new Dictionary<string, string>();
            foreach (string path in paths.Skip(Databases - Churn))
            {
                Assert.True(await store.UnregisterAsync(path));
                removedRows[path] = Rows(path);
                File.Delete(path);
                File.Delete(path + "-wal");
                File.Delete(path + "-shm");
            }
            foreach (BackgroundProcess writer in writers)
            {
                Assert.Equal(0, writer.WaitForExit(TimeSpan.FromMinutes(10)));
            }
            foreach (string path in added)
            {
                SqliteWriter.Write(path, 3, start: 100); // written after joining
            }
            await Wait.UntilAsync(() => written.Concat(added).All(p => CaughtUp(replicas[p])), "the writes to reach both replicas", TimeSpan.FromMinutes(10));
            await stop.CancelAsync();
            await run;
            // A busy machine's s3rver (one node process) can leave a thousand databases' requests waiting past the connect
            // or response stall limits: those are retried and allowed; any other failure is not.
            string[] failures = [.. logs.LinesAtLeast(LogLevel.Warning).Where(static l => !(l.Contains(" failed (retrying in ", StringComparison.Ordinal)
                && l.Contains(": stalled: ", StringComparison.Ordinal)))];
            Assert.True(failures.Length == 0, string.Join("\n", failures.Take(20)));

            // Every database from both replicas, 8 at a time; a removed one equal to what it held when it left.
            using var gate = new SemaphoreSlim(8);
            var mismatches = new ConcurrentBag<string>();
            await Task.WhenAll(replicas.Select(async entry =>
            {
                await gate.WaitAsync();
                try
                {
                    string expected = removedRows.TryGetValue(entry.Key, out string? kept) ? kept : Rows(entry.Key);
                    foreach (Replica replica in new[] { entry.Value.File, entry.Value.S3 })
                    {
                        if (await Restored(replica.Client, dir) != expected)
                        {
                            mismatches.Add($"{entry.Key} from {replica.Name}");
                        }
                    }
                }
                finally
                {
                    gate.Release();
                }
            }));
            Assert.Empty(mismatches);
            Assert.Equal(Databases + Churn, replicas.Count);
            Assert.Equal(41, Rows(written[^1]).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
            Assert.Equal(4, Rows(added[0]).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        }
        finally
        {
            writers.ForEach(w => w.Dispose());
        }
    }
}
