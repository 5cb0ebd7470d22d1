using Litestream.Replication;
using Microsoft.Data.Sqlite;

namespace Litestream.Tests.Replication;

/// <summary>The replicator's own two connections to a database.</summary>
public sealed class DbConnectionsTests
{
    private const int SqliteDbStatusLookasideUsed = 0;
    private const int SqliteDbStatusLookasideHit = 4;

    [Fact]
    public void Open_BothConnections_TakeNoLookaside()
    {
        // SQLite's default lookaside is ~120 KB per connection, allocated at open: a thousand databases starting at once
        // held ~240 MB of it. Without it, no statement of ours is ever served from lookaside.
        string path = Path.Combine(TestRepo.TempDir(), "app.db");
        using (var app = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString()))
        {
            app.Open();
            using SqliteCommand command = app.CreateCommand();
            command.CommandText = "PRAGMA journal_mode=wal; CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t(v) VALUES ('x');";
            command.ExecuteNonQuery();
            // The control: a connection with SQLite's default settings is served from lookaside by the same statements.
            Assert.Equal(SQLitePCL.raw.SQLITE_OK, SQLitePCL.raw.sqlite3_db_status(app.Handle!, SqliteDbStatusLookasideHit, out _, out int appHits, 0));
            Assert.True(appHits > 0, "the default connection took no lookaside: the check below would prove nothing");
        }
        using var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using DbConnections connections = DbConnections.Open(path, TimeSpan.FromSeconds(1), file);
        foreach (SqliteConnection connection in new[] { connections.Writer, connections.Reader })
        {
            Assert.Equal(SQLitePCL.raw.SQLITE_OK, SQLitePCL.raw.sqlite3_db_status(connection.Handle!, SqliteDbStatusLookasideHit, out _, out int hits, 0));
            Assert.Equal(0, hits);
            Assert.Equal(SQLitePCL.raw.SQLITE_OK, SQLitePCL.raw.sqlite3_db_status(connection.Handle!, SqliteDbStatusLookasideUsed, out int used, out _, 0));
            Assert.Equal(0, used);
        }
    }
}
