using Microsoft.Data.Sqlite;

namespace Litestream.Hosting.Tests.Fixtures;

/// <summary>
/// The application side of the embedding tests: it writes through Microsoft.Data.Sqlite, as an app would,
/// opening and closing a connection per transaction (no pooling), so every close happens beside the engine's
/// open connections in the same process.
/// </summary>
public static class AppDatabase
{
    /// <summary>One row of the application table, with the blob as hex so rows compare by value.</summary>
    public readonly record struct Row(long Id, string Name, string Payload);

    public static SqliteConnection Open(string path)
    {
        // PRAGMAs the app needs on every connection go through the connection string (Default Timeout is
        // busy_timeout in seconds); journal_mode=wal is persistent in the file.
        var connection = new SqliteConnection($"Data Source={path};Pooling=False;Default Timeout=10");
        connection.Open();
        Exec(connection, "PRAGMA journal_mode = wal");
        return connection;
    }

    public static void CreateSchema(string path)
    {
        using SqliteConnection connection = Open(path);
        Exec(connection, "CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, name TEXT NOT NULL, payload BLOB NOT NULL)");
    }

    /// <summary>
    /// Writes <paramref name="transactions"/> transactions of <paramref name="rowsPerTransaction"/> rows each
    /// (seeded payloads), then updates and deletes a few rows, each on a fresh connection.
    /// </summary>
    public static void Write(string path, int seed, int transactions, int rowsPerTransaction)
    {
        var random = new Random(seed);
        for (int t = 0; t < transactions; t++)
        {
            using SqliteConnection connection = Open(path);
            using SqliteTransaction transaction = connection.BeginTransaction();
            for (int r = 0; r < rowsPerTransaction; r++)
            {
                byte[] payload = new byte[random.Next(16, 600)];
                random.NextBytes(payload);
                using SqliteCommand insert = connection.CreateCommand();
                insert.CommandText = "INSERT INTO items (name, payload) VALUES ($name, $payload)";
                insert.Parameters.AddWithValue("$name", $"seed{seed}-t{t}-r{r}");
                insert.Parameters.AddWithValue("$payload", payload);
                insert.ExecuteNonQuery();
            }
            transaction.Commit();
        }
        using SqliteConnection last = Open(path);
        Exec(last, $"UPDATE items SET name = name || '-updated' WHERE id % 7 = {seed % 7}");
        Exec(last, $"DELETE FROM items WHERE id % 11 = {seed % 11}");
    }

    /// <summary>Every row, ordered by id, read through a fresh read-only connection.</summary>
    public static List<Row> ReadAll(string path)
    {
        using var connection = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using SqliteCommand select = connection.CreateCommand();
        select.CommandText = "SELECT id, name, payload FROM items ORDER BY id";
        using SqliteDataReader reader = select.ExecuteReader();
        var rows = new List<Row>();
        while (reader.Read())
        {
            rows.Add(new Row(reader.GetInt64(0), reader.GetString(1), Convert.ToHexString((byte[])reader.GetValue(2))));
        }
        return rows;
    }

    public static string IntegrityCheck(string path)
    {
        using var connection = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using SqliteCommand check = connection.CreateCommand();
        check.CommandText = "PRAGMA integrity_check";
        return (string)check.ExecuteScalar()!;
    }

    private static void Exec(SqliteConnection connection, string sql)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
