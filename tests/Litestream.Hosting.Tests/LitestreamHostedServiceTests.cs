using Litestream.Hosting.Tests.Fixtures;
using Litestream.Ltx;
using Litestream.Replication;
using Litestream.Restore;
using Litestream.Storage;
using Litestream.Storage.File;
using Litestream.Storage.S3;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Litestream.Hosting.Tests;

/// <summary>
/// <c>services.AddLitestream(...)</c> in a real generic host: restore-if-missing before the application runs,
/// replication while it runs, a final sync when the host stops.
/// </summary>
public sealed class LitestreamHostedServiceTests
{
    [Fact]
    public async Task StartAsync_NoDatabaseAndEmptyReplica_StartsEmptyThenReplicatesWhatTheAppCreates()
    {
        using var dir = new TempDirectory();
        string path = dir.File("app.db");
        var logs = new CapturingLogger();
        using IHost host = BuildHost(logs, o => o.AddDatabase(path, "file://" + dir.File("replica")).Db = new DbOptions { MonitorInterval = TimeSpan.FromMilliseconds(50) });

        await host.StartAsync();
        Assert.False(File.Exists(path));
        Assert.Contains(logs.Lines, l => l == $"Information: {path} does not exist and file://{dir.File("replica")} holds no backup; starting with a new database");

        AppDatabase.CreateSchema(path);
        AppDatabase.Write(path, seed: 5, transactions: 10, rowsPerTransaction: 10);
        await host.Services.GetRequiredService<LitestreamHostedService>().SyncAsync();
        await host.StopAsync();

        Assert.Null(host.Services.GetRequiredService<LitestreamHostedService>().Store);
        Assert.Equal(AppDatabase.ReadAll(path), await RestoreCopyAsync(dir, "check.db"));
    }

    [Fact]
    public async Task StopAsync_DatabaseCreatedAfterStartAndNotYetOpened_FinalSyncShipsIt()
    {
        using var dir = new TempDirectory();
        string path = dir.File("app.db");
        // An hour between open attempts: the store cannot notice the new file before the host stops.
        using IHost host = BuildHost(new CapturingLogger(), o => o.AddDatabase(path, "file://" + dir.File("replica")).Db = new DbOptions { MonitorInterval = TimeSpan.FromHours(1) });
        await host.StartAsync();

        AppDatabase.CreateSchema(path);
        AppDatabase.Write(path, seed: 8, transactions: 3, rowsPerTransaction: 4);
        await host.StopAsync();

        Assert.Equal(AppDatabase.ReadAll(path), await RestoreCopyAsync(dir, "check.db"));
    }

    [Fact]
    public async Task StartAsync_DatabaseMissing_RestoresBeforeTheAppRunsAndStopAsyncSyncsTheRest()
    {
        using var dir = new TempDirectory();
        string path = dir.File("app.db");
        string replicaUrl = "file://" + dir.File("replica");

        // Another machine's life: the database existed, was replicated, then was lost with its meta directory.
        AppDatabase.CreateSchema(path);
        AppDatabase.Write(path, seed: 6, transactions: 8, rowsPerTransaction: 12);
        using (IHost first = BuildHost(new CapturingLogger(), o => o.AddDatabase(path, replicaUrl)))
        {
            await first.StartAsync();
            await first.StopAsync();
        }
        List<AppDatabase.Row> before = AppDatabase.ReadAll(path);
        foreach (string suffix in new[] { "", "-wal", "-shm" })
        {
            File.Delete(path + suffix);
        }
        Directory.Delete(dir.File(".app.db-litestream"), recursive: true);

        // A monitor interval of an hour: after the start-up snapshot nothing syncs by itself, so rows written
        // afterwards can only reach the replica through the final sync of StopAsync.
        var logs = new CapturingLogger();
        using IHost host = BuildHost(logs, o => o.AddDatabase(path, replicaUrl).Db = new DbOptions { MonitorInterval = TimeSpan.FromHours(1) });
        await host.StartAsync();

        Assert.Equal(before, AppDatabase.ReadAll(path));
        Assert.Contains(logs.Lines, l => l.StartsWith($"Information: restored {path} to txid ", StringComparison.Ordinal));
        Replica replica = Assert.Single(host.Services.GetRequiredService<LitestreamHostedService>().Store!.Replicas);
        await Wait.UntilAsync(() => replica.Db.Txid.Value > 0 && replica.RemoteTxid == replica.Db.Txid, "the replica to hold the database's transactions");
        var uploadedAtStart = replica.RemoteTxid!.Value;

        AppDatabase.Write(path, seed: 7, transactions: 4, rowsPerTransaction: 6);
        await host.StopAsync();

        Assert.True(replica.RemoteTxid!.Value.Value > uploadedAtStart.Value);
        Assert.False(replica.Db.IsOpen);
        List<AppDatabase.Row> after = AppDatabase.ReadAll(path);
        Assert.Contains(after, r => r.Name == "seed7-t3-r5" || r.Name == "seed7-t3-r5-updated");
        Assert.Equal(after, await RestoreCopyAsync(dir, "check.db"));
    }

    /// <summary>An encrypted replica (docs/ENCRYPTION.md) from the options: sealed uploads, restore-on-start with the key, a refused start without it.</summary>
    [Fact]
    public async Task Encryption_ReplicatesSealed_RestoresOnStartWithTheKey_AndRefusesToStartWithoutIt()
    {
        using var dir = new TempDirectory();
        string path = dir.File("app.db");
        string replicaUrl = "file://" + dir.File("replica");
        var keys = new LtxKeyRing(LtxPageCipher.Parse(Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32))));
        void Sealed(LitestreamOptions o) => o.AddDatabase(path, replicaUrl).ReplicaOptions = new ReplicaOptions { Encryption = keys };

        AppDatabase.CreateSchema(path);
        AppDatabase.Write(path, seed: 11, transactions: 6, rowsPerTransaction: 9);
        using (IHost first = BuildHost(new CapturingLogger(), Sealed))
        {
            await first.StartAsync();
            await first.StopAsync();
        }
        string[] files = Directory.GetFiles(dir.File("replica"), "*.ltx", SearchOption.AllDirectories);
        Assert.NotEmpty(files);
        Assert.All(files, f => Assert.True(LtxHeader.Read(File.ReadAllBytes(f)).IsEncrypted, $"{f} is not sealed"));
        List<AppDatabase.Row> before = AppDatabase.ReadAll(path);
        foreach (string suffix in new[] { "", "-wal", "-shm" })
        {
            File.Delete(path + suffix);
        }
        Directory.Delete(dir.File(".app.db-litestream"), recursive: true);

        using (IHost plain = BuildHost(new CapturingLogger(), o => o.AddDatabase(path, replicaUrl)))
        {
            var refused = await Assert.ThrowsAsync<LtxKeyMissingException>(() => plain.StartAsync());
            Assert.Equal(keys.Current.KeyId, refused.KeyId);
            Assert.False(File.Exists(path));
        }
        using (IHost second = BuildHost(new CapturingLogger(), Sealed))
        {
            await second.StartAsync();
            Assert.Equal(before, AppDatabase.ReadAll(path));
            await second.StopAsync();
        }
    }

    [Fact]
    public async Task StartAsync_NoDatabaseConfigured_Throws()
    {
        using IHost host = BuildHost(new CapturingLogger(), _ => { });

        InvalidOperationException e = await Assert.ThrowsAsync<InvalidOperationException>(() => host.StartAsync());

        Assert.Equal("AddLitestream: no database configured (call options.AddDatabase)", e.Message);
    }

    /// <summary>
    /// The hosted service makes its clients through ReplicaClientFactory from a URL plus explicit keys: every key
    /// must reach the backend (a 64 MiB part size used to come back as 5 MiB, the storage class as null).
    /// </summary>
    [RequiresFact(Need.S3rver)]
    public async Task StartAsync_ReplicaUrlPlusKeys_EveryKeyReachesTheClient()
    {
        using var dir = new TempDirectory();
        using var s3 = new S3rver();
        using IHost host = BuildHost(new CapturingLogger(), o => o.Databases.Add(new LitestreamDatabaseOptions
        {
            Path = dir.File("app.db"),
            Replica = new ReplicaSettings
            {
                Url = s3.Url("hosting/app.db"),
                Options = new Dictionary<string, string>
                {
                    ["access-key-id"] = S3rver.Credential,
                    ["secret-access-key"] = S3rver.Credential,
                    ["part-size"] = "64MiB",
                    ["storage-class"] = "STANDARD",
                    ["concurrency"] = "2",
                },
            },
        }));
        await host.StartAsync();
        try
        {
            var client = Assert.IsType<S3ReplicaClient>(host.Services.GetRequiredService<LitestreamHostedService>().Store!.Replicas[0].Client);
            Assert.Equal((64L << 20, "STANDARD", 2, "hosting/app.db", S3rver.Bucket),
                (client.Settings.PartSize, client.Settings.StorageClass, client.Settings.Concurrency, client.Path, client.Bucket));
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task Store_RegisterAndUnregisterAtRuntime_TenantDatabaseReplicatedAndFlushedWhileTheHostRuns()
    {
        using var dir = new TempDirectory();
        string path = dir.File("app.db");
        AppDatabase.CreateSchema(path);
        using IHost host = BuildHost(new CapturingLogger(), o => o.AddDatabase(path, "file://" + dir.File("replica")));
        await host.StartAsync();
        Store store = host.Services.GetRequiredService<LitestreamHostedService>().Store!;

        // A tenant's database added while the application runs, with a replica client the application owns.
        string tenant = dir.File("tenant.db");
        AppDatabase.CreateSchema(tenant);
        AppDatabase.Write(tenant, seed: 3, transactions: 4, rowsPerTransaction: 5);
        await using var tenantClient = new FileReplicaClient(dir.File("tenant-replica"));
        var tenantReplica = new Replica(new Db(tenant, new DbOptions { MonitorInterval = TimeSpan.FromMilliseconds(50) }), tenantClient);
        Assert.True(await store.RegisterAsync(tenantReplica));
        Assert.Equal([path, tenant], store.Replicas.Select(r => r.Db.Path));
        AppDatabase.Write(tenant, seed: 4, transactions: 2, rowsPerTransaction: 5);

        // Removed while the host keeps running: its last commits reach its replica, the app database replicates on.
        Assert.True(await store.UnregisterAsync(tenant));
        Assert.Equal([path], store.Replicas.Select(r => r.Db.Path));
        string restored = dir.File("tenant-restored.db");
        await new Replica(new Db(restored), tenantClient).RestoreAsync(new RestoreOptions());
        Assert.Equal(AppDatabase.ReadAll(tenant), AppDatabase.ReadAll(restored));

        AppDatabase.Write(path, seed: 9, transactions: 3, rowsPerTransaction: 2);
        await host.StopAsync();
        Assert.Equal(AppDatabase.ReadAll(path), await RestoreCopyAsync(dir, "check.db"));
    }

    private static IHost BuildHost(CapturingLogger logs, Action<LitestreamOptions> configure)
    {
        var builder = new HostApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.AddProvider(logs);
        builder.Services.AddLitestream(configure);
        return builder.Build();
    }

    private static async Task<List<AppDatabase.Row>> RestoreCopyAsync(TempDirectory dir, string name)
    {
        string output = dir.File(name);
        await using var client = new FileReplicaClient(dir.File("replica"));
        await new Replica(new Db(output), client).RestoreAsync(new RestoreOptions());
        return AppDatabase.ReadAll(output);
    }
}
