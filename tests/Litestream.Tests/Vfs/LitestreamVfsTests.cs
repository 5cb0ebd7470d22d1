using System.Diagnostics;
using Litestream.Replication;
using Litestream.Storage.File;
using Litestream.Tests.Fixtures;
using Litestream.Vfs;
using Microsoft.Data.Sqlite;

namespace Litestream.Tests.Vfs;

/// <summary>
/// The VFS in process: a replica registered with <see cref="LitestreamVfs.AddReplica"/> and read through
/// Microsoft.Data.Sqlite (the bundled e_sqlite3), kept current by polling, with time travel and removal.
/// </summary>
public class LitestreamVfsTests
{
    private const string Writer = """
        import sqlite3, sys
        c = sqlite3.connect(sys.argv[1], isolation_level=None)
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("CREATE TABLE IF NOT EXISTS fruits(id INTEGER PRIMARY KEY, name TEXT, pad BLOB)")
        c.execute("BEGIN")
        for i in range(int(sys.argv[2])):
            c.execute("INSERT INTO fruits(name, pad) VALUES (?, randomblob(700))", ("fruit %d" % i,))
        c.execute("COMMIT")
        """;

    [Fact]
    public async Task AddReplica_ReadsThroughMicrosoftDataSqlite_FollowsNewTransactions_AndRemoves()
    {
        string dir = TestPaths.TempDir();
        string db = Path.Combine(dir, "app.db");
        var client = new FileReplicaClient(Path.Combine(dir, "replica"));
        TestPaths.Python(Writer, db, "300");
        await using var source = new Db(db);
        source.Open();
        var replica = new Replica(source, client);
        source.Sync();
        await replica.SyncAsync(default);

        string name = $"fruits-{Guid.NewGuid():N}.db";
        LitestreamVfs.AddReplica(name, client, new VfsReplicaOptions { PollInterval = TimeSpan.FromMilliseconds(200), CacheSize = 64 * 1024 });
        string cs = $"Data Source=file:{name}?vfs=litestream;Mode=ReadOnly;Pooling=False";
        using (var c = new SqliteConnection(cs))
        {
            c.Open();
            Assert.Equal(300L, Scalar(c, "SELECT count(*) FROM fruits"));
            Assert.Equal("fruit 299", Scalar(c, "SELECT name FROM fruits WHERE id = 300"));
            Assert.Equal("ok", Scalar(c, "PRAGMA integrity_check"));
            Assert.Equal(source.Txid.ToString(), Scalar(c, "PRAGMA litestream_txid"));
            var write = Assert.Throws<SqliteException>(() => Scalar(c, "INSERT INTO fruits(name) VALUES ('x')"));
            Assert.Equal(8, write.SqliteErrorCode); // SQLITE_READONLY

            // New transactions arrive by polling; the open connection sees them at its next read transaction.
            await Task.Delay(100);
            DateTimeOffset between = DateTimeOffset.UtcNow;
            await Task.Delay(100);
            TestPaths.Python(Writer, db, "50");
            source.Sync();
            await replica.SyncAsync(default);
            var clock = Stopwatch.StartNew();
            while ((long)Scalar(c, "SELECT count(*) FROM fruits") != 350L)
            {
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), "the VFS did not pick up the new transaction");
                await Task.Delay(100);
            }
            Assert.Equal(source.Txid.ToString(), Scalar(c, "PRAGMA litestream_txid"));
            Assert.Equal("ok", Scalar(c, "PRAGMA integrity_check"));

            // Back to before the second batch, then forward again.
            var none = Assert.Throws<SqliteException>(() => Exec(c, $"PRAGMA litestream_time = '{DateTimeOffset.UtcNow.AddDays(-1):O}'"));
            Assert.Contains("no replicated state at or before", none.Message);
            Exec(c, $"PRAGMA litestream_time = '{between:O}'");
            Assert.Equal(300L, Scalar(c, "SELECT count(*) FROM fruits"));
            Exec(c, "PRAGMA litestream_time = '-1ms'");
            Assert.Equal(350L, Scalar(c, "SELECT count(*) FROM fruits"));
            Exec(c, "PRAGMA litestream_time = 'now'");
            Assert.Equal(350L, Scalar(c, "SELECT count(*) FROM fruits"));
        }

        Assert.True(LitestreamVfs.RemoveReplica(name));
        Assert.False(LitestreamVfs.RemoveReplica(name));
        using var gone = new SqliteConnection(cs);
        var e = Assert.Throws<SqliteException>(gone.Open);
        Assert.Equal(14, e.SqliteErrorCode); // SQLITE_CANTOPEN
    }

    private static object Scalar(SqliteConnection c, string sql)
    {
        using SqliteCommand cmd = c.CreateCommand();
        cmd.CommandText = sql;
        return cmd.ExecuteScalar()!;
    }

    private static void Exec(SqliteConnection c, string sql)
    {
        using SqliteCommand cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }
}
