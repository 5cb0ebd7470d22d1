using System.Diagnostics;
using Litestream.Ltx;
using Litestream.Storage;
using Litestream.Storage.S3;
using Litestream.Tests.Fixtures;

namespace Litestream.Tests.Storage;

/// <summary>
/// The S3 client in front of a server that stops sending without closing (the fault proxy's stalls): every
/// operation fails after one timeout of silence with an error naming the object, is not retried by the SDK
/// (each retry would add another silent timeout), and a cancellation ends it within a second.
/// </summary>
[Collection("s3rver")]
public sealed class S3StallTests(S3rverFixture s3)
{
    private const long T1 = 1_700_000_001_234;
    private static readonly StorageTimeouts s_short = new() { Connect = TimeSpan.FromSeconds(2), Response = TimeSpan.FromSeconds(2), Idle = TimeSpan.FromSeconds(2) };

    /// <summary>
    /// A 200 kB L0 file stored at a fresh path, and a client reaching it through <paramref name="proxy"/> that has
    /// already listed it: the stalls then hit a pooled keep-alive connection, as in a long-running replicate
    /// (where the server closing its idle end must not reach the client of a stalled connection).
    /// </summary>
    private async Task<(S3ReplicaClient Client, string Key)> StoredAsync(FaultProxy proxy, StorageTimeouts timeouts)
    {
        string path = S3rverFixture.NewPath("stall");
        await using (S3ReplicaClient direct = s3.Client(path))
        {
            await direct.WriteLtxFileAsync(0, new Txid(1), new Txid(1), new MemoryStream(ReplicaClientConformanceTests.Ltx(1, 1, T1, 200_000)), default);
        }
        var client = new S3ReplicaClient(s3.Settings(path, proxy.Endpoint)) { Timeouts = timeouts };
        await ListAllAsync(client);
        return (client, $"s3://{S3rver.Bucket}/{client.LtxKey(0, new Txid(1), new Txid(1))}");
    }

    private static async Task<byte[]> ReadAllAsync(S3ReplicaClient client, CancellationToken cancellationToken)
    {
        await using Stream body = await client.OpenLtxFileAsync(0, new Txid(1), new Txid(1), 0, 0, cancellationToken);
        var copy = new MemoryStream();
        await body.CopyToAsync(copy, cancellationToken);
        return copy.ToArray();
    }

    private static async Task ListAllAsync(S3ReplicaClient client)
    {
        await foreach (LtxFileInfo _ in client.ListLtxFilesAsync(0, Txid.Zero, false, default))
        {
        }
    }

    [RequiresTheory(Need.S3rver)]
    [InlineData("get object", FaultProxy.Fault.StallAtConnect, "no response for 2s")]
    [InlineData("get object", FaultProxy.Fault.StallInHeaders, "no response for 2s")]
    [InlineData("get object", FaultProxy.Fault.StallInBody, "response body: no data for 2s")]
    [InlineData("list", FaultProxy.Fault.StallAtConnect, "no response for 2s")]
    [InlineData("list", FaultProxy.Fault.StallInHeaders, "no response for 2s")]
    [InlineData("list", FaultProxy.Fault.StallInBody, "response body: no data for 2s")]
    public async Task Read_ServerStalls_FailsAfterOneTimeout_NamingTheObject_NotRetried(string operation, FaultProxy.Fault fault, string stalled)
    {
        await using var proxy = new FaultProxy(s3.Server.Port);
        (S3ReplicaClient client, string key) = await StoredAsync(proxy, s_short);
        await using (client)
        {
            proxy.Inject(fault);
            var clock = Stopwatch.StartNew();
            IOException error = await Assert.ThrowsAsync<IOException>(operation == "list" ? () => ListAllAsync(client) : () => ReadAllAsync(client, default));
            string target = operation == "list" ? $"s3://{S3rver.Bucket}/{client.LevelPrefix(0)}" : key;
            Assert.Equal($"s3: {operation} {target}: stalled: {stalled}", error.Message);
            Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(1.9), TimeSpan.FromSeconds(15));
            Assert.Equal(1, proxy.Faults);
        }
    }

    [RequiresTheory(Need.S3rver)]
    [InlineData(FaultProxy.Fault.StallAtConnect)]
    [InlineData(FaultProxy.Fault.StallInHeaders)]
    public async Task Write_ServerStopsAnswering_FailsAfterOneTimeout_NamingTheKey_ThenSucceedsOnceHealed(FaultProxy.Fault fault)
    {
        await using var proxy = new FaultProxy(s3.Server.Port);
        (S3ReplicaClient client, _) = await StoredAsync(proxy, s_short);
        await using (client)
        {
            byte[] data = ReplicaClientConformanceTests.Ltx(2, 2, T1, 5000);
            proxy.Inject(fault);
            var clock = Stopwatch.StartNew();
            IOException error = await Assert.ThrowsAsync<IOException>(async () =>
                await client.WriteLtxFileAsync(0, new Txid(2), new Txid(2), new MemoryStream(data), default));
            Assert.Matches($@"^s3: put object s3://{S3rver.Bucket}/{client.LtxKey(0, new Txid(2), new Txid(2))}: stalled: no response( after the request body)? for 2s$", error.Message);
            Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(1.9), TimeSpan.FromSeconds(15));
            Assert.Equal(1, proxy.Faults);

            proxy.Inject(null);
            await client.WriteLtxFileAsync(0, new Txid(2), new Txid(2), new MemoryStream(data), default);
            await using S3ReplicaClient direct = s3.Client(client.Path);
            await using Stream stored = await direct.OpenLtxFileAsync(0, new Txid(2), new Txid(2), 0, 0, default);
            var copy = new MemoryStream();
            await stored.CopyToAsync(copy);
            Assert.Equal(data, copy.ToArray());
        }
    }

    [RequiresTheory(Need.S3rver)]
    [InlineData(FaultProxy.Fault.StallAtConnect)]
    [InlineData(FaultProxy.Fault.StallInHeaders)]
    [InlineData(FaultProxy.Fault.StallInBody)]
    public async Task Read_CancelledWhileStalled_StopsWithinASecond(FaultProxy.Fault fault)
    {
        await using var proxy = new FaultProxy(s3.Server.Port);
        // The default limits (a minute): only the cancellation can end the read this soon.
        (S3ReplicaClient client, _) = await StoredAsync(proxy, new StorageTimeouts());
        await using (client)
        {
            proxy.Inject(fault);
            using var cancel = new CancellationTokenSource();
            Task read = ReadAllAsync(client, cancel.Token);
            await proxy.WaitForStallAsync(read, TimeSpan.FromSeconds(30));
            var clock = Stopwatch.StartNew();
            cancel.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => read.WaitAsync(TimeSpan.FromSeconds(10)));
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"cancellation took {clock.Elapsed}");
        }
    }
}
