using System.Buffers.Binary;
using Litestream.Ltx;
using Litestream.Replication;
using Litestream.Restore;
using Litestream.Storage.S3;
using Litestream.Tests.Fixtures;
using Microsoft.Data.Sqlite;

namespace Litestream.Tests.Replication;

/// <summary>
/// A restart of the replicator while the application keeps committing and checkpointing (issue 22 goal 5): the first
/// capture is taken right after the database opens, before the replica is listed, so a store that answers the listing
/// late no longer leaves the application time to restart the WAL a second time over the frames that prove the chain
/// continues. The listing is held back by the proxy, not timed.
/// </summary>
[Collection("s3rver")]
[Requires(Need.Python)]
public sealed class RestartContinuityTests(S3rverFixture s3)
{
    /// <summary>
    /// While the replicator is down the application commits, checkpoints and restarts its WAL once, then checkpoints
    /// everything again; while the restarted replicator's listing is held it restarts the WAL a second time (our read
    /// transaction, begun on a fully copied WAL, holds SQLite's read slot 0, which lets that restart through). The
    /// chain continues with deltas: one capture across the first restart at open, one across the second after the
    /// listing; before, the only capture came after the listing, saw two restarts and wrote a full snapshot.
    /// </summary>
    [RequiresFact(Need.S3rver)]
    public async Task Restart_WalRestartedWhileDownAndAgainWhileTheListingIsHeld_ContinuesTheChainWithDeltas()
    {
        string path = Path.Combine(TestRepo.TempDir(), "app.db");
        SqliteWriter.Write(path, 200);
        using var app = new SqliteConnection($"Data Source={path};Pooling=False");
        app.Open();
        await using var proxy = new FaultProxy(s3.Server.Port);
        string prefix = S3rverFixture.NewPath("restart-continuity");

        Db running;
        await using (var life = Life.Start(s3, path, prefix, proxy, new CapturingLogger()))
        {
            running = life.Db;
            await life.UntilReplicatedAsync(Txid.Zero);
            Txid first = life.Db.Txid;
            for (int i = 0; i < 30; i++) // frames enough that no later generation's few commits reach the position's last frame
            {
                Exec(app, $"INSERT INTO t(v) VALUES ('while running {i}')");
            }
            await life.UntilReplicatedAsync(first);
        }
        LtxHeader stopped = running.Position!.Value; // as the shutdown's last capture left it

        // Down: commits, a full checkpoint, the first restart (ten commits in the new generation: fewer frames than
        // the position's generation holds, more than the second restart's two commits overwrite), and a full checkpoint again.
        for (int i = 0; i < 20; i++)
        {
            Exec(app, $"INSERT INTO t(v) VALUES ('before the first restart {i}')");
        }
        Exec(app, "PRAGMA wal_checkpoint(PASSIVE)");
        for (int i = 0; i < 10; i++)
        {
            Exec(app, $"INSERT INTO t(v) VALUES ('first restart {i}')");
        }
        Exec(app, "PRAGMA wal_checkpoint(PASSIVE)");
        Assert.Equal(stopped.WalSalt1 + 1, WalSalt1(path));

        var log = new CapturingLogger();
        using (FaultProxy.RequestHold listing = proxy.Hold(static r => r.Contains("list-type=2", StringComparison.Ordinal)))
        {
            await using var life = Life.Start(s3, path, prefix, proxy, log);
            await listing.Arrived.WaitAsync(TimeSpan.FromMinutes(2)); // the database is open, the reconcile waits
            Exec(app, "INSERT INTO t(v) VALUES ('second restart')");
            Exec(app, "PRAGMA wal_checkpoint(PASSIVE)");
            Exec(app, "INSERT INTO t(v) VALUES ('second restart, another commit')");
            Assert.Equal(stopped.WalSalt1 + 2, WalSalt1(path));
            listing.Release();

            // The tail of the first generation, the first restart's commits, the second restart's: three deltas.
            var expected = new Txid(stopped.MaxTxid.Value + 3);
            await life.UntilReplicatedAsync(new Txid(expected.Value - 1));
            Assert.True(expected == life.Db.Txid, $"captured {life.Db.Txid}, expected {expected}:\n{string.Join('\n', log.Lines)}");
            Assert.Equal(stopped.WalSalt1 + 2, life.Db.Position!.Value.WalSalt1);
        }
        string[] lines = [.. log.Lines];
        Assert.DoesNotContain(lines, static l => l.StartsWith("Information: snapshot ", StringComparison.Ordinal));
        string continued = Assert.Single(lines, static l => l.Contains(" across a wal restart", StringComparison.Ordinal));
        Assert.StartsWith($"Information: continued {path} across a wal restart: txid {new Txid(stopped.MaxTxid.Value + 1)}, ", continued);
        Assert.EndsWith(" pages committed before the restart read from the previous wal generation, no snapshot", continued);

        await using var direct = s3.Client(prefix);
        string output = Path.Combine(Path.GetDirectoryName(path)!, "restored.db");
        await Restorer.RestoreAsync(direct, new RestoreOptions { OutputPath = output }, default);
        Assert.Equal(SqliteWriter.Dump(path), SqliteWriter.Dump(output));
    }

    /// <summary>Salt-1 of the WAL header (SQLite adds one at each restart).</summary>
    private static uint WalSalt1(string path)
    {
        byte[] header = new byte[32];
        using (FileStream wal = new(path + "-wal", FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
        {
            wal.ReadExactly(header);
        }
        return BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(16));
    }

    private static void Exec(SqliteConnection connection, string sql)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    /// <summary>One run of a <see cref="Store"/> replicating to s3rver through the proxy (no compaction, no time-based checkpoint); disposing stops it.</summary>
    private sealed class Life : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly S3ReplicaClient _client;
        private readonly Replica _replica;
        private readonly Store _store;
        private readonly Task _run;
        private readonly CapturingLogger _log;

        private Life(S3ReplicaClient client, Replica replica, Store store, CapturingLogger log)
        {
            _log = log;
            _client = client;
            _replica = replica;
            _store = store;
            _run = store.RunAsync(_stop.Token);
        }

        public Db Db => _replica.Db;

        public static Life Start(S3rverFixture s3, string path, string prefix, FaultProxy proxy, CapturingLogger log)
        {
            var client = new S3ReplicaClient(s3.Settings(prefix, proxy.Endpoint));
            var db = new Db(path, new DbOptions { MonitorInterval = TimeSpan.FromMilliseconds(100), CheckpointInterval = TimeSpan.FromHours(1) }, log);
            var replica = new Replica(db, client, new ReplicaOptions { SyncInterval = TimeSpan.FromMilliseconds(100) });
            return new Life(client, replica, new Store([replica], logger: log), log);
        }

        /// <summary>Waits until the database captured past <paramref name="after"/> and the replica holds all of it.</summary>
        public async Task UntilReplicatedAsync(Txid after)
        {
            if (!await Wait.WithinAsync(() => Db.Txid > after && _replica.RemoteTxid == Db.Txid, TimeSpan.FromMinutes(2)))
            {
                Assert.Fail($"the replica does not hold every capture past {after}: captured {Db.Txid}, replica {_replica.RemoteTxid}; log:\n{string.Join('\n', _log.Lines)}");
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _run;
            Assert.Equal(0, _store.ErrorCount);
            await _client.DisposeAsync();
            _stop.Dispose();
        }
    }
}
