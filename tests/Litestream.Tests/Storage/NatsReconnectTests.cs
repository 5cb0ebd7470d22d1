using System.Diagnostics;
using System.Security.Cryptography;
using Litestream.Ltx;
using Litestream.Storage;
using Litestream.Storage.Nats;
using Litestream.Tests.Fixtures;

namespace Litestream.Tests.Storage;

/// <summary>
/// max-reconnects and reconnect-wait as nats.go honours them, against a nats-server -js of each test's own that is
/// killed and started again (same port, same JetStream store); and the read-ahead of large objects.
/// </summary>
[Collection("nats")]
public sealed class NatsReconnectTests(NatsFixture nats)
{
    private const long T1 = 1_700_000_001_234;

    [RequiresFact(Need.NatsServer)]
    public async Task ServerRestart_WithinMaxReconnects_WritesGoOnAndNothingIsLost()
    {
        using var server = new NatsServer();
        await server.CreateBucketAsync("restart");
        await using var client = new NatsReplicaClient(Settings(server, "restart") with { MaxReconnects = 30, ReconnectWait = TimeSpan.FromMilliseconds(200) });
        var written = new Dictionary<ulong, byte[]>();
        for (ulong i = 1; i <= 3; i++)
        {
            written[i] = await WriteAsync(client, i, 200_000);
        }

        server.Kill();
        await Wait.UntilAsync(() => !client.IsConnected, "the client to see the connection closed");
        // The next write waits on the reconnect attempts while the server is down, then goes through.
        Task<byte[]> during = WriteAsync(client, 4, 200_000);
        await Task.Delay(1000); // proves the write does NOT complete while the server is down
        Assert.False(during.IsCompleted);
        server.Start();
        written[4] = await during;
        for (ulong i = 5; i <= 6; i++)
        {
            written[i] = await WriteAsync(client, i, 200_000);
        }

        List<LtxFileInfo> listed = await client.ListLtxFilesAsync(0, Txid.Zero, useMetadata: true, default).ToListAsync();
        Assert.Equal(written.Keys.Order(), listed.Select(f => f.MinTxid.Value));
        foreach ((ulong txid, byte[] data) in written)
        {
            Assert.Equal(data, await ReadAsync(client, txid));
        }
    }

    [RequiresFact(Need.NatsServer)]
    public async Task MaxReconnectsZero_LostConnection_FailsFastWithOneError_ForGood()
    {
        using var server = new NatsServer();
        await server.CreateBucketAsync("noretry");
        await using var client = new NatsReplicaClient(Settings(server, "noretry") with { MaxReconnects = 0 });
        await WriteAsync(client, 1, 1000);

        server.Kill();
        await Wait.UntilAsync(() => !client.IsConnected, "the client to see the connection closed");
        var clock = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<ReplicaStorageException>(() => WriteAsync(client, 2, 1000));
        clock.Stop();

        string expected = $"nats: connect nats://{server.HostPort}/noretry/db/noretry: the connection was lost and not restored after 0 reconnect attempts (max-reconnects 0)";
        Assert.Equal(expected, e.Message);
        Assert.Equal($"restart litestream once nats://{server.HostPort} is reachable again, or raise max-reconnects (-1: no limit)", e.Hint);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"took {clock.Elapsed}");
        Assert.DoesNotContain(server.Password, e.ToString());
        // As nats.go's closed connection: the server coming back changes nothing.
        server.Start();
        Assert.Equal(expected, (await Assert.ThrowsAsync<ReplicaStorageException>(() => WriteAsync(client, 3, 1000))).Message);
    }

    [RequiresFact(Need.NatsServer)]
    public async Task MaxReconnectsTwo_ServerStaysDown_TwoAttemptsReconnectWaitApart_ThenGivesUp()
    {
        using var server = new NatsServer();
        await server.CreateBucketAsync("giveup");
        TimeSpan wait = TimeSpan.FromMilliseconds(400);
        await using var client = new NatsReplicaClient(Settings(server, "giveup") with { MaxReconnects = 2, ReconnectWait = wait });
        await WriteAsync(client, 1, 1000);

        server.Kill();
        await Wait.UntilAsync(() => !client.IsConnected, "the client to see the connection closed");
        var clock = Stopwatch.StartNew();
        var e = await Assert.ThrowsAsync<ReplicaStorageException>(() => WriteAsync(client, 2, 1000));

        Assert.Equal($"nats: connect nats://{server.HostPort}/giveup/db/giveup: the connection was lost and not restored after 2 reconnect attempts (max-reconnects 2)", e.Message);
        // Two attempts, each reconnect-wait after the failure before it.
        Assert.True(clock.Elapsed >= 2 * wait - TimeSpan.FromMilliseconds(100), $"took {clock.Elapsed}");
    }

    [RequiresFact(Need.NatsServer)]
    public async Task LargeObjects_InterleavedChunks_ReadAheadReadsEachBackExactly()
    {
        // Two objects put at once: their chunks interleave in the stream, so read-ahead guesses miss and are dropped.
        await using NatsReplicaClient a = nats.Client("readahead");
        await using var b = new NatsReplicaClient(a.Settings);
        byte[] first = RandomLtx(1, 3 * 1024 * 1024 + 17);
        byte[] second = RandomLtx(2, 2 * 1024 * 1024 + 5);
        await Task.WhenAll(
            a.WriteLtxFileAsync(0, new Txid(1), new Txid(1), new ReplicaClientConformanceTests.NonSeekableStream(first), default).AsTask(),
            b.WriteLtxFileAsync(0, new Txid(2), new Txid(2), new ReplicaClientConformanceTests.NonSeekableStream(second), default).AsTask());

        Assert.Equal(first, await ReadAsync(a, 1));
        Assert.Equal(second, await ReadAsync(a, 2));
        await using (Stream part = await a.OpenLtxFileAsync(0, new Txid(1), new Txid(1), 1_000_000, 500_000, default))
        {
            var copy = new MemoryStream();
            await part.CopyToAsync(copy);
            Assert.Equal(first[1_000_000..1_500_000], copy.ToArray());
        }
    }

    private static NatsReplicaSettings Settings(NatsServer server, string bucket) => new()
    {
        Host = server.HostPort,
        Bucket = bucket,
        Username = NatsServer.User,
        Password = server.Password,
        Path = "db/" + bucket,
        Timeout = TimeSpan.FromSeconds(5),
        RequestTimeout = TimeSpan.FromSeconds(20),
    };

    private static byte[] RandomLtx(ulong txid, int size)
    {
        byte[] bytes = ReplicaClientConformanceTests.Ltx(txid, txid, T1, LtxConstants.HeaderSize);
        Array.Resize(ref bytes, size);
        RandomNumberGenerator.Fill(bytes.AsSpan(LtxConstants.HeaderSize));
        return bytes;
    }

    private static async Task<byte[]> WriteAsync(NatsReplicaClient client, ulong txid, int size)
    {
        byte[] data = RandomLtx(txid, size);
        await client.WriteLtxFileAsync(0, new Txid(txid), new Txid(txid), new MemoryStream(data), default);
        return data;
    }

    private static async Task<byte[]> ReadAsync(NatsReplicaClient client, ulong txid)
    {
        await using Stream stream = await client.OpenLtxFileAsync(0, new Txid(txid), new Txid(txid), 0, 0, default);
        var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        return copy.ToArray();
    }
}
