using Litestream.Hosting.Tests.Fixtures;
using Litestream.Replication;
using Litestream.Restore;
using Litestream.Storage.File;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Litestream.Hosting.Tests;

/// <summary>
/// Several replicas per database in <c>AddLitestream</c> (issue 26) and databases registered and unregistered while the
/// host runs: each replica's state on its own, a failing one named, every replica restoring the same data.
/// </summary>
public sealed class SeveralReplicasHostingTests
{
    private static readonly DbOptions s_fastDb = new() { MonitorInterval = TimeSpan.FromMilliseconds(50) };
    private static readonly ReplicaOptions s_fastReplica = new() { SyncInterval = TimeSpan.FromMilliseconds(100) };

    [Fact]
    public async Task TwoReplicas_OneFailing_EachReplicaHasItsOwnState_StopNamesTheFailingOne()
    {
        using var dir = new TempDirectory();
        string path = dir.File("app.db");
        File.WriteAllText(dir.File("not-a-dir"), "");
        string broken = Path.Combine(dir.File("not-a-dir"), "replica");
        using IHost host = BuildHost(o =>
        {
            o.Store = new StoreOptions { MaxBackoff = TimeSpan.FromMilliseconds(200), ShutdownSyncTimeout = TimeSpan.FromSeconds(2) };
            LitestreamDatabaseOptions db = o.AddDatabase(path, "file://" + dir.File("replica")).AddReplica("broken", "file://" + broken, s_fastReplica);
            db.Db = s_fastDb;
            db.ReplicaOptions = s_fastReplica with { Name = "good" };
        });
        LitestreamHostedService service = host.Services.GetRequiredService<LitestreamHostedService>();
        await host.StartAsync();
        AppDatabase.CreateSchema(path);
        AppDatabase.Write(path, seed: 3, transactions: 5, rowsPerTransaction: 4);

        Db db = Assert.Single(service.Store!.Replicas).Db;
        Assert.Equal(["good", "broken"], db.Replicas.Select(r => r.Name));
        // The writer's commits may reach the replicas over several captures (a busy machine delays one past the good
        // replica's upload of the one before): the states are compared once nothing moved between the reads.
        ReplicaStatus good = null!, failing = null!;
        Ltx.Txid local = default;
        await Wait.UntilAsync(() =>
        {
            local = db.Txid;
            good = db.Replicas[0].GetStatus();
            failing = db.Replicas[1].GetStatus();
            return local > Ltx.Txid.Zero && good.Txid == local && failing.LastError is not null && db.Txid == local;
        }, "good to hold everything and broken to fail");
        Assert.Equal(("good", "file", (Ltx.Txid?)local, ReplicaStatus.Ok, (string?)null, 0UL), (good.Name, good.Type, good.Txid, good.State, good.LastError, good.TxidsBehind));
        Assert.Equal(("broken", "file", ReplicaStatus.Error, local.Value), (failing.Name, failing.Type, failing.State, failing.TxidsBehind));
        Assert.StartsWith($"Could not find a part of the path '{broken}/", failing.LastError, StringComparison.Ordinal);

        ReplicaBehindException behind = await Assert.ThrowsAsync<ReplicaBehindException>(() => service.StopAsync(CancellationToken.None));
        Assert.Contains("broken (", behind.Message, StringComparison.Ordinal);
        Assert.Equal(AppDatabase.ReadAll(path), await RestoreCopyAsync(dir.File("replica"), dir.File("check.db")));
        await host.StopAsync();
    }

    [Fact]
    public async Task RegisterAsync_WhileRunning_TwoReplicas_BothRestoreEqual_ThenUnregisterLeavesTheOthers()
    {
        using var dir = new TempDirectory();
        string first = dir.File("first.db");
        string tenant = dir.File("tenant.db");
        AppDatabase.CreateSchema(first);
        using IHost host = BuildHost(o => o.AddDatabase(first, "file://" + dir.File("first-replica")).Db = s_fastDb);
        LitestreamHostedService service = host.Services.GetRequiredService<LitestreamHostedService>();
        await Assert.ThrowsAsync<InvalidOperationException>(() => service.RegisterAsync(new LitestreamDatabaseOptions { Path = tenant }));
        await host.StartAsync();

        var options = new LitestreamDatabaseOptions { Path = tenant, Replica = new() { Url = "file://" + dir.File("tenant-a") }, Db = s_fastDb, ReplicaOptions = s_fastReplica with { Name = "a" } }
            .AddReplica("b", "file://" + dir.File("tenant-b"), s_fastReplica);
        Assert.True(await service.RegisterAsync(options));
        Assert.False(await service.RegisterAsync(options)); // once per path
        Assert.Equal([first, tenant], service.Store!.Replicas.Select(r => r.Db.Path));
        Assert.Equal(["a", "b"], service.Store.Replicas[1].Db.Replicas.Select(r => r.Name));

        AppDatabase.CreateSchema(tenant);
        AppDatabase.Write(tenant, seed: 9, transactions: 6, rowsPerTransaction: 5);
        await service.SyncAsync(); // returns when both replicas hold every commit
        List<AppDatabase.Row> expected = AppDatabase.ReadAll(tenant);

        Assert.True(await service.UnregisterAsync(tenant));
        Assert.False(await service.UnregisterAsync(tenant));
        Assert.Equal([first], service.Store.Replicas.Select(r => r.Db.Path));
        Assert.Equal(expected, await RestoreCopyAsync(dir.File("tenant-a"), dir.File("check-a.db")));
        Assert.Equal(expected, await RestoreCopyAsync(dir.File("tenant-b"), dir.File("check-b.db")));
        await host.StopAsync();
    }

    [Fact]
    public async Task StartAsync_DatabaseMissing_FirstReplicaEmpty_RestoresFromTheSecond()
    {
        using var dir = new TempDirectory();
        string path = dir.File("app.db");
        AppDatabase.CreateSchema(path);
        AppDatabase.Write(path, seed: 4, transactions: 4, rowsPerTransaction: 3);
        await ReplicateOnceAsync(path, dir.File("second"));
        List<AppDatabase.Row> expected = AppDatabase.ReadAll(path);
        Assert.Equal(expected, await RestoredOnStartAsync(path, dir.File("first"), dir.File("second")));
    }

    /// <summary>Both replicas hold a backup, the second a newer one: restore-on-start takes the newest, not the first listed.</summary>
    [Fact]
    public async Task StartAsync_DatabaseMissing_SecondReplicaNewer_RestoresFromTheNewest()
    {
        using var dir = new TempDirectory();
        string path = dir.File("app.db");
        AppDatabase.CreateSchema(path);
        AppDatabase.Write(path, seed: 4, transactions: 4, rowsPerTransaction: 3);
        await ReplicateOnceAsync(path, dir.File("first"));
        List<AppDatabase.Row> inFirst = AppDatabase.ReadAll(path);
        AppDatabase.Write(path, seed: 5, transactions: 3, rowsPerTransaction: 2);
        await ReplicateOnceAsync(path, dir.File("second"));
        List<AppDatabase.Row> expected = AppDatabase.ReadAll(path);
        Assert.NotEqual(inFirst, expected);
        Assert.Equal(expected, await RestoredOnStartAsync(path, dir.File("first"), dir.File("second")));
    }

    /// <summary>One host start and stop replicating <paramref name="path"/> to the file replica at <paramref name="replica"/> (a stop syncs).</summary>
    private static async Task ReplicateOnceAsync(string path, string replica)
    {
        using IHost host = BuildHost(o => o.AddDatabase(path, "file://" + replica));
        await host.StartAsync();
        await host.StopAsync();
    }

    /// <summary>
    /// Deletes the database with its -wal, -shm and local state, starts a host with the two replicas in that order
    /// (restore-on-start), and returns what the restored database holds.
    /// </summary>
    private static async Task<List<AppDatabase.Row>> RestoredOnStartAsync(string path, string first, string second)
    {
        foreach (string suffix in new[] { "", "-wal", "-shm" })
        {
            File.Delete(path + suffix);
        }
        Directory.Delete(Path.Combine(Path.GetDirectoryName(path)!, "." + Path.GetFileName(path) + "-litestream"), recursive: true);
        using IHost host = BuildHost(o => o.AddDatabase(path, "file://" + first).AddReplica("second", "file://" + second));
        await host.StartAsync();
        List<AppDatabase.Row> restored = AppDatabase.ReadAll(path);
        await host.StopAsync();
        return restored;
    }

    private static IHost BuildHost(Action<LitestreamOptions> configure)
    {
        var builder = new HostApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddLitestream(configure);
        return builder.Build();
    }

    private static async Task<List<AppDatabase.Row>> RestoreCopyAsync(string replica, string output)
    {
        await using var client = new FileReplicaClient(replica);
        await new Replica(new Db(output), client).RestoreAsync(new RestoreOptions());
        return AppDatabase.ReadAll(output);
    }
}
