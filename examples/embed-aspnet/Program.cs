// POST /items/{name} inserts a row, GET /items counts them. Litestream restores app.db from the replica before
// the server starts listening when the file is missing, replicates every commit while the app runs, and syncs
// a last time when the host stops (Ctrl-C / SIGTERM).
//   dotnet run -- --Litestream:Db=app.db --Litestream:Replica=file:///var/backups/app
using Litestream.Hosting;
using Microsoft.Data.Sqlite;

WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(args);
string dbPath = Path.GetFullPath(builder.Configuration["Litestream:Db"] ?? "app.db");
string replicaUrl = builder.Configuration["Litestream:Replica"] ?? "file://" + Path.GetFullPath("replica");

// Registered first: it starts before the server and stops after it, so the final sync sees every request.
builder.Services.AddLitestream(options => options.AddDatabase(dbPath, replicaUrl));

WebApplication app = builder.Build();
// PRAGMAs go through the connection string (Default Timeout = busy_timeout); WAL mode is set once and persists.
string connectionString = $"Data Source={dbPath};Default Timeout=5";
app.Lifetime.ApplicationStarted.Register(() =>
{
    using var connection = new SqliteConnection(connectionString);
    connection.Open();
    Exec(connection, "PRAGMA journal_mode = wal");
    Exec(connection, "CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)");
});

app.MapPost("/items/{name}", (string name) =>
{
    using var connection = new SqliteConnection(connectionString);
    connection.Open();
    using SqliteCommand insert = connection.CreateCommand();
    insert.CommandText = "INSERT INTO items (name) VALUES ($name)";
    insert.Parameters.AddWithValue("$name", name);
    insert.ExecuteNonQuery();
    return Results.Text("ok\n");
});
app.MapGet("/items", () =>
{
    using var connection = new SqliteConnection(connectionString);
    connection.Open();
    using SqliteCommand count = connection.CreateCommand();
    count.CommandText = "SELECT COUNT(*) FROM items";
    return Results.Text($"{count.ExecuteScalar()}\n");
});
app.Run();

static void Exec(SqliteConnection connection, string sql)
{
    using SqliteCommand command = connection.CreateCommand();
    command.CommandText = sql;
    command.ExecuteNonQuery();
}
