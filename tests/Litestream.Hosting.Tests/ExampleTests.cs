using System.Text.RegularExpressions;
using Litestream.Hosting.Tests.Fixtures;
using Litestream.Replication;
using Litestream.Restore;
using Litestream.Storage.File;

namespace Litestream.Hosting.Tests;

/// <summary>
/// The examples are built and run here, so they cannot rot: examples/embed-console published with NativeAOT
/// (zero warnings) and run twice (a first start on an empty replica, then a restore after the database is lost),
/// and examples/embed-aspnet built and served, with its rows restored from the replica after shutdown.
/// </summary>
public sealed partial class ExampleTests
{
    [RequiresFact(Need.Repo)]
    public void EmbedConsole_PublishedWithNativeAot_RestoresReplicatesAndVerifies()
    {
        using var dir = new TempDirectory();
        string publish = dir.File("publish");
        (int code, string log) = Repo.Run("dotnet", ["publish", TestRepo.Path("examples", "embed-console", "EmbedConsole.csproj"),
            "-c", "Release", "-r", "linux-x64", "-o", publish, "-nologo"], TimeSpan.FromMinutes(20));
        Assert.True(code == 0, $"publish failed:\n{log}");
        Assert.DoesNotMatch(WarningPattern(), log);
        string exe = Path.Combine(publish, "embed-console");
        Assert.True(File.Exists(exe), "no native embed-console in the publish output");
        Assert.False(File.Exists(Path.Combine(publish, "embed-console.dll")), "published as IL, not NativeAOT");

        string db = dir.File("app.db");
        string replica = "file://" + dir.File("replica");
        (code, log) = Repo.Run(exe, [db, replica, "50"], TimeSpan.FromMinutes(2));
        Assert.True(code == 0, log);
        Assert.Contains($"no backup in {replica}; starting a new database\n", log);
        Assert.Matches(@"restored copy at txid [0-9a-f]{16}: 50 rows \(database: 50\)\n", log);

        // The machine is replaced: database, WAL, shared memory and meta directory are gone.
        foreach (string suffix in new[] { "", "-wal", "-shm" })
        {
            File.Delete(db + suffix);
        }
        Directory.Delete(dir.File(".app.db-litestream"), recursive: true);
        (code, log) = Repo.Run(exe, [db, replica, "10"], TimeSpan.FromMinutes(2));
        Assert.True(code == 0, log);
        Assert.Matches($@"^restored {Regex.Escape(db)} to txid [0-9a-f]{{16}}\n", log);
        Assert.Matches(@"restored copy at txid [0-9a-f]{16}: 60 rows \(database: 60\)\n", log);
    }

    [RequiresFact(Need.Repo)]
    public async Task EmbedAspNet_ServesWritesAndStopsWithAFinalSync_ReplicaHasEveryRow()
    {
        using var dir = new TempDirectory();
        string output = dir.File("bin");
        (int code, string log) = Repo.Run("dotnet", ["build", TestRepo.Path("examples", "embed-aspnet", "EmbedAspNet.csproj"),
            "-c", "Release", "-o", output, "-nologo"], TimeSpan.FromMinutes(15));
        Assert.True(code == 0, $"build failed:\n{log}");
        Assert.DoesNotMatch(WarningPattern(), log);

        string db = dir.File("app.db");
        int port = LocalServer.FreePort();
        var psi = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = dir.Path };
        foreach (string a in new[] { Path.Combine(output, "embed-aspnet.dll"), "--urls", $"http://127.0.0.1:{port}", $"--Litestream:Db={db}", $"--Litestream:Replica=file://{dir.File("replica")}" })
        {
            psi.ArgumentList.Add(a);
        }
        using var server = System.Diagnostics.Process.Start(psi)!;
        Task<string> stdout = server.StandardOutput.ReadToEndAsync();
        Task<string> stderr = server.StandardError.ReadToEndAsync();
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            await WaitForServerAsync(http, server);
            for (int i = 0; i < 25; i++)
            {
                using HttpResponseMessage post = await http.PostAsync($"/items/item{i}", null);
                Assert.Equal("ok\n", await post.Content.ReadAsStringAsync());
            }
            Assert.Equal("25\n", await http.GetStringAsync("/items"));
        }
        finally
        {
            // SIGTERM: the host stops the server, then Litestream's final sync runs.
            Repo.Run("kill", ["-TERM", server.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)], TimeSpan.FromSeconds(30));
            Assert.True(server.WaitForExit(TimeSpan.FromMinutes(2)), "the app did not stop within 2 minutes");
        }
        string serverLog = await stdout + await stderr;
        Assert.True(server.ExitCode == 0, serverLog);

        string restored = dir.File("restored.db");
        await using var client = new FileReplicaClient(dir.File("replica"));
        await new Replica(new Db(restored), client).RestoreAsync(new RestoreOptions());
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={restored};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using Microsoft.Data.Sqlite.SqliteCommand names = connection.CreateCommand();
        names.CommandText = "SELECT group_concat(name, ',') FROM (SELECT name FROM items ORDER BY id)";
        Assert.Equal(string.Join(',', Enumerable.Range(0, 25).Select(i => $"item{i}")), names.ExecuteScalar());
    }

    private static async Task WaitForServerAsync(HttpClient http, System.Diagnostics.Process server)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            Assert.False(server.HasExited, "the app exited at start-up");
            Assert.True(clock.Elapsed < TimeSpan.FromMinutes(2), "the app did not answer within 2 minutes");
            try
            {
                // The table is created when the app has started; until then the count fails.
                using HttpResponseMessage response = await http.GetAsync("/items");
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            await Task.Delay(100);
        }
    }

    [GeneratedRegex(@"\bwarning [A-Z]+[0-9]+", RegexOptions.IgnoreCase)]
    private static partial Regex WarningPattern();
}
