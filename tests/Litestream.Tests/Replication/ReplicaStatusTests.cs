using System.Diagnostics.Metrics;
using Litestream.Ltx;
using Litestream.Metrics;
using Litestream.Replication;
using Litestream.Storage.File;

namespace Litestream.Tests.Replication;

/// <summary>
/// Each replica's own state (issue 26: every observability surface lists each replica): two file replicas of one
/// database, the second under a path that is a regular file, so every upload to it fails (ENOTDIR, even as root).
/// </summary>
[Requires(Need.Python)]
public class ReplicaStatusTests
{
    private static readonly StoreOptions s_fastStore = new() { MaxBackoff = TimeSpan.FromMilliseconds(200), ShutdownSyncTimeout = TimeSpan.FromSeconds(2) };

    private sealed record Setup(string Dir, string Path, Db Db, Replica Good, Replica Broken, string BrokenRoot)
    {
        public static Setup Create()
        {
            string dir = TestRepo.TempDir();
            string path = System.IO.Path.Combine(dir, "app.db");
            SqliteWriter.Write(path, new Workload { Commits = 5, Pad = 700 });
            File.WriteAllText(System.IO.Path.Combine(dir, "not-a-dir"), "");
            string brokenRoot = System.IO.Path.Combine(dir, "not-a-dir", "replica");
            var db = new Db(path, StoreTests.s_fastDb);
            var good = new Replica(db, new FileReplicaClient(System.IO.Path.Combine(dir, "replica-good")), StoreTests.s_fastReplica with { Name = "good" });
            var broken = new Replica(db, new FileReplicaClient(brokenRoot), StoreTests.s_fastReplica with { Name = "broken" });
            return new Setup(dir, path, db, good, broken, brokenRoot);
        }
    }

    [RequiresFact]
    public async Task RunAsync_OneOfTwoReplicasFailing_StatusHealthFileAndMetricsNameIt()
    {
        Setup s = Setup.Create();
        var store = new Store([s.Good, s.Broken], s_fastStore);
        using var stop = new CancellationTokenSource();
        Task run = store.RunAsync(stop.Token);
        SqliteWriter.Write(s.Path, new Workload { Commits = 20, Pad = 700 });
        await Wait.UntilAsync(() => s.Db.Txid > new Txid(1) && s.Good.RemoteTxid == s.Db.Txid && s.Broken.LastError is not null
            && ReplicationHealth.Read(s.Db.MetaPath)?.Replicas is [{ Txid: { } t }, { Upload: not null }] && t == s.Db.Txid, "good to hold everything and broken to fail");
        Txid local = s.Db.Txid;

        ReplicaStatus good = s.Good.GetStatus();
        Assert.Equal(new ReplicaStatus("good", "file", local, ReplicaStatus.Ok, null) { TxidsBehind = 0, LagSeconds = 0 }, good);
        ReplicaStatus broken = s.Broken.GetStatus();
        // Listing a directory that cannot exist finds nothing: it holds TXID 0; every write fails.
        Assert.Equal(("broken", "file", (Txid?)Txid.Zero, ReplicaStatus.Error, local.Value), (broken.Name, broken.Type, broken.Txid, broken.State, broken.TxidsBehind));
        Assert.StartsWith($"Could not find a part of the path '{s.BrokenRoot}/", broken.LastError, StringComparison.Ordinal);

        // The health file `litestream status` reads: one line per replica, the failing one with its error.
        HealthReport health = ReplicationHealth.Read(s.Db.MetaPath)!;
        Assert.Equal(["good", "broken"], health.Replicas.Select(r => r.Name));
        Assert.Equal(["file", "file"], health.Replicas.Select(r => r.Type));
        Assert.Equal((Txid?)local, health.Replicas[0].Txid);
        Assert.Null(health.Replicas[0].Upload);
        Assert.Equal((Txid?)Txid.Zero, health.Replicas[1].Txid);
        Assert.StartsWith($"Could not find a part of the path '{s.BrokenRoot}/", health.Replicas[1].Upload!.Error, StringComparison.Ordinal);
        Assert.Equal(ReplicaStatus.Ok, health.StatusOf("good", local, null, DateTimeOffset.UtcNow)!.State);
        ReplicaStatus fromFile = health.StatusOf("broken", local, null, DateTimeOffset.UtcNow)!;
        Assert.Equal((ReplicaStatus.Error, local.Value), (fromFile.State, fromFile.TxidsBehind));
        Assert.StartsWith("upload failing since ", fromFile.LastError, StringComparison.Ordinal);
        Assert.Null(health.StatusOf("tape", local, null, DateTimeOffset.UtcNow));

        // Metrics: the new gauge is labelled by replica always; upstream-named series get the label with several replicas.
        // Collected while the local TXID stands still (a checkpoint may add a file): the values are one moment's.
        Dictionary<string, double> metrics = [];
        await Wait.UntilAsync(() =>
        {
            local = s.Db.Txid;
            metrics = Collect(s.Path);
            return s.Db.Txid == local && metrics["litestream_replica_behind{replica=good}"] == 0;
        }, "good to hold the newest capture when the metrics are read");
        Assert.Equal(0, metrics["litestream_replica_behind{replica=good}"]);
        Assert.Equal(local.Value, metrics["litestream_replica_behind{replica=broken}"]);
        Assert.Equal(local.Value, metrics["litestream_replica_txid{replica=good}"]);
        Assert.Equal(0, metrics["litestream_replica_txid{replica=broken}"]);
        Assert.Equal(0, metrics["litestream_replica_sync_age_seconds{replica=good}"]);
        Assert.True(metrics["litestream_replica_sync_age_seconds{replica=broken}"] >= 0);
        Assert.DoesNotContain(metrics.Keys, k => k.StartsWith("litestream_validation_ok", StringComparison.Ordinal)); // before the first validation: no series

        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<Exception>(() => run); // the final sync leaves broken behind
        Assert.Null(ReplicationHealth.Read(s.Db.MetaPath));
    }

    [RequiresFact]
    public async Task SyncAge_IdleCaughtUpReplica_StaysZero_ThenCountsFromTheOldestMissingCapture()
    {
        string dir = TestRepo.TempDir();
        string path = Path.Combine(dir, "app.db");
        SqliteWriter.Write(path, new Workload { Commits = 5, Pad = 700 });
        var db = new Db(path, StoreTests.s_fastDb);
        var replica = new Replica(db, new FileReplicaClient(Path.Combine(dir, "replica")), StoreTests.s_fastReplica);
        var store = new Store([replica], s_fastStore);
        using var stop = new CancellationTokenSource();
        Task run = store.RunAsync(stop.Token);
        await Wait.UntilAsync(() => db.Txid > Txid.Zero && replica.RemoteTxid == db.Txid, "the first upload");
        // Idle: no upload pass runs, and none is needed.
        await Wait.UntilAsync(() => DateTimeOffset.UtcNow - replica.LastSyncAt > TimeSpan.FromSeconds(2), "two idle seconds");
        Assert.Equal(0, replica.GetStatus().LagSeconds);
        Assert.Equal(0, Collect(path)["litestream_replica_sync_age_seconds"]);
        Assert.Equal(ReplicaStatus.Ok, replica.GetStatus().State);

        await stop.CancelAsync();
        await run;
    }

    [Fact]
    public void Create_LagCountsFromTheOldestMissingCapture_NotTheLastUpload()
    {
        DateTimeOffset now = DateTimeOffset.UtcNow;
        TimeSpan allowance = TimeSpan.FromSeconds(6);
        ReplicaStatus lagging = ReplicaStatus.Create("s3", "s3", new Txid(10), new Txid(7), now.AddSeconds(-30), now.AddHours(-1), null, false, allowance, now);
        Assert.Equal(new ReplicaStatus("s3", "s3", new Txid(7), ReplicaStatus.Behind, null) { TxidsBehind = 3, LagSeconds = 30 }, lagging);
        ReplicaStatus fresh = ReplicaStatus.Create("s3", "s3", new Txid(10), new Txid(9), now.AddSeconds(-2), now.AddHours(-1), null, false, allowance, now);
        Assert.Equal((ReplicaStatus.Ok, 1UL, 2.0), (fresh.State, fresh.TxidsBehind, fresh.LagSeconds));
        ReplicaStatus caughtUp = ReplicaStatus.Create("s3", "s3", new Txid(10), new Txid(10), null, now.AddHours(-1), null, false, allowance, now);
        Assert.Equal((ReplicaStatus.Ok, 0UL, 0.0), (caughtUp.State, caughtUp.TxidsBehind, caughtUp.LagSeconds));
        ReplicaStatus released = ReplicaStatus.Create("s3", "s3", new Txid(10), new Txid(9), now, now, null, true, allowance, now);
        Assert.Equal(ReplicaStatus.Behind, released.State);
        ReplicaStatus failing = ReplicaStatus.Create("s3", "s3", new Txid(10), null, null, now.AddSeconds(-1), "boom", false, allowance, now);
        Assert.Equal((ReplicaStatus.Error, "boom", 10UL, 1.0), (failing.State, failing.LastError, failing.TxidsBehind, failing.LagSeconds));
    }

    [Fact]
    public void CaptureTimes_AfterAnswersTheOldestCaptureBeyondTheHeldTxid()
    {
        var captures = new CaptureTimes();
        DateTimeOffset t0 = DateTimeOffset.UnixEpoch.AddDays(1);
        captures.Add(new Txid(5), t0);
        captures.Add(new Txid(6), t0.AddSeconds(1));
        captures.Add(new Txid(7), t0.AddSeconds(2));
        Assert.Equal(t0.AddSeconds(1), captures.After(new Txid(5)));
        Assert.Equal(t0, captures.After(new Txid(1)));
        Assert.Null(captures.After(new Txid(7)));
    }

    /// <summary>This database's observable series now, keyed <c>name{replica=…}</c> (or the bare name without a replica label).</summary>
    private static Dictionary<string, double> Collect(string dbPath)
    {
        var values = new Dictionary<string, double>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == LitestreamMetrics.MeterName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            string? db = null;
            string? replica = null;
            foreach (KeyValuePair<string, object?> tag in tags)
            {
                db = tag.Key == "db" ? tag.Value as string : db;
                replica = tag.Key == "replica" ? tag.Value as string : replica;
            }
            if (db == dbPath)
            {
                values[replica is null ? instrument.Name : $"{instrument.Name}{{replica={replica}}}"] = value;
            }
        }
        listener.SetMeasurementEventCallback<long>((i, v, t, _) => Record(i, v, t));
        listener.SetMeasurementEventCallback<double>((i, v, t, _) => Record(i, v, t));
        listener.Start();
        listener.RecordObservableInstruments();
        return values;
    }
}
