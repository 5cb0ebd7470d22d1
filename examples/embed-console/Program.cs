// Restores app.db from its replica when it is missing, replicates it while the app writes, then proves the
// replica is complete by restoring a copy and comparing row counts.
//   embed-console <db-path> <replica-url> [rows]
using Litestream.Replication;
using Litestream.Restore;
using Litestream.Storage;
using Microsoft.Data.Sqlite;

if (args.Length < 2)
{
    Console.Error.WriteLine("usage: embed-console <db-path> <replica-url> [rows]");
    return 2;
}
string path = Path.GetFullPath(args[0]);
string replicaUrl = args[1];
int rows = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 100;

// NativeAOT: name the SQLite provider explicitly (Microsoft.Data.Sqlite would look it up by reflection).
SQLitePCL.raw.SetProvider(new SQLitePCL.SQLite3Provider_e_sqlite3());

await using IReplicaClient client = ReplicaClientFactory.CreateFromUrl(replicaUrl);
var db = new Db(path, new DbOptions { MonitorInterval = TimeSpan.FromMilliseconds(200) });
var replica = new Replica(db, client);

// 1. Restore if the database is missing; an empty replica means a first start.
if (!File.Exists(path))
{
    try
    {
        RestoreResult restored = await replica.RestoreAsync(new RestoreOptions());
        Console.WriteLine($"restored {path} to txid {restored.Txid}");
    }
    catch (NoBackupException)
    {
        Console.WriteLine($"no backup in {replicaUrl}; starting a new database");
    }
}

// 2. Replicate in the background while the app works.
await using (var store = new Store([replica]))
{
    using (var connection = new SqliteConnection($"Data Source={path};Default Timeout=5"))
    {
        connection.Open();
        Exec(connection, "PRAGMA journal_mode = wal");
        Exec(connection, "CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, at TEXT NOT NULL)");
    }
    await store.OpenAsync();
    for (int i = 0; i < rows; i++)
    {
        using var connection = new SqliteConnection($"Data Source={path};Default Timeout=5");
        connection.Open();
        Exec(connection, $"INSERT INTO events (at) VALUES ('{DateTimeOffset.UtcNow:O}')");
    }
    // 3. A durability point: when SyncAsync returns, the replica holds every commit made before it.
    await store.SyncAsync();
    Console.WriteLine($"replicated txid {replica.RemoteTxid} to {replicaUrl}");
} // CloseAsync: a last sync and upload, then the database is closed.

// 4. Prove it: restore a copy and compare.
string copy = path + ".check";
DeleteDatabase(copy);
RestoreResult check = await replica.RestoreAsync(new RestoreOptions { OutputPath = copy });
long expected = Count(path), actual = Count(copy);
DeleteDatabase(copy);
Console.WriteLine($"restored copy at txid {check.Txid}: {actual} rows (database: {expected})");
return expected == actual ? 0 : 1;

// The file and the -wal/-shm SQLite keeps beside it: restore refuses to write where a stale -wal would be applied.
static void DeleteDatabase(string path)
{
    SqliteConnection.ClearAllPools();
    foreach (string file in new[] { path, path + "-wal", path + "-shm" })
    {
        File.Delete(file);
    }
}

static void Exec(SqliteConnection connection, string sql)
{
    using SqliteCommand command = connection.CreateCommand();
    command.CommandText = sql;
    command.ExecuteNonQuery();
}

static long Count(string path)
{
    using var connection = new SqliteConnection($"Data Source={path};Mode=ReadOnly");
    connection.Open();
    using SqliteCommand command = connection.CreateCommand();
    command.CommandText = "SELECT COUNT(*) FROM events";
    return (long)command.ExecuteScalar()!;
}
