using System.Security.Cryptography;
using Litestream.Ltx;
using Litestream.Storage;
using Litestream.Storage.Gs;
using Litestream.Tests.Fixtures;

namespace Litestream.Tests.Storage;

/// <summary>
/// GCS resumable uploads against the Cloud Storage emulator (with GCS's chunk protocol that gcs_emulator.js adds to
/// it), through a <see cref="FaultProxy"/> that logs every request and can cut one chunk off mid-way.
/// </summary>
[Collection("gcs")]
public sealed class GsResumableUploadTests(GcsEmulatorFixture gcs)
{
    private const int Chunk = 4 * GsReplicaClient.ResumableChunkQuantum; // 1 MiB: half a chunk is a whole quantum

    [RequiresFact(Need.GcsEmulator)]
    public async Task Write_AboveChunkSize_GoesUpInChunksAndReadsBackExactly()
    {
        await using var proxy = new FaultProxy(gcs.Server.Port);
        await using GsReplicaClient client = Client(proxy, "chunks");
        byte[] data = RandomLtx(1, 2, 3 * Chunk + 12_345);

        LtxFileInfo info = await client.WriteLtxFileAsync(0, new Txid(1), new Txid(2), new MemoryStream(data), default);

        Assert.Equal(data.Length, info.Size);
        Assert.Equal(1, proxy.RequestLog.Count(r => r.StartsWith("POST ", StringComparison.Ordinal) && r.Contains("uploadType=resumable", StringComparison.Ordinal)));
        Assert.Equal(4, proxy.RequestLog.Count(r => r.StartsWith("PUT ", StringComparison.Ordinal) && r.Contains("upload_id=", StringComparison.Ordinal)));
        Assert.Equal(data, await ReadAllAsync(client, 1, 2));
    }

    [RequiresFact(Need.GcsEmulator)]
    public async Task Write_AtChunkSize_IsOneMultipartRequest()
    {
        await using var proxy = new FaultProxy(gcs.Server.Port);
        await using GsReplicaClient client = Client(proxy, "small");
        byte[] data = RandomLtx(1, 1, Chunk);

        await client.WriteLtxFileAsync(0, new Txid(1), new Txid(1), new MemoryStream(data), default);

        string request = Assert.Single(proxy.RequestLog);
        Assert.StartsWith($"POST /upload/storage/v1/b/{GcsEmulatorFixture.Bucket}/o?uploadType=multipart", request);
        Assert.Equal(data, await ReadAllAsync(client, 1, 1));
    }

    [RequiresFact(Need.GcsEmulator)]
    public async Task Write_ChunkCutMidway_AsksTheSessionAndResumesWithoutLossOrDuplication()
    {
        await using var proxy = new FaultProxy(gcs.Server.Port);
        await using GsReplicaClient client = Client(proxy, "resume");
        byte[] data = RandomLtx(5, 9, 3 * Chunk + 777);
        int puts = 0;
        // The second chunk reaches the emulator half-way (it keeps those 512 KiB), then both connections are reset.
        proxy.Inject(FaultProxy.Fault.CutRequestBody, r => r.StartsWith("PUT ", StringComparison.Ordinal) && r.Contains("upload_id=", StringComparison.Ordinal) && Interlocked.Increment(ref puts) == 2);

        await client.WriteLtxFileAsync(0, new Txid(5), new Txid(9), new MemoryStream(data), default);

        Assert.Equal(1, proxy.Faults);
        // chunk 1 (0-1 MiB), chunk 2 (cut: the session keeps 1.5 MiB), the status query, then 1.5-2.5 MiB and
        // 2.5 MiB to the end: 5. Resuming from the chunk's start instead (1 MiB) would take 6, from 0 more.
        Assert.Equal(5, proxy.RequestLog.Count(r => r.StartsWith("PUT ", StringComparison.Ordinal) && r.Contains("upload_id=", StringComparison.Ordinal)));
        Assert.Equal(1, proxy.RequestLog.Count(r => r.StartsWith("POST ", StringComparison.Ordinal)));
        Assert.Equal(data, await ReadAllAsync(client, 5, 9));
        var listed = await client.ListLtxFilesAsync(0, Txid.Zero, useMetadata: true, default).ToListAsync();
        Assert.Equal([(new Txid(5), new Txid(9), (long)data.Length)], listed.Select(f => (f.MinTxid, f.MaxTxid, f.Size)));
    }

    [RequiresFact(Need.GcsEmulator)]
    public async Task Write_EveryChunkCut_FailsAfterRetriesAndLeavesNoObject()
    {
        await using var proxy = new FaultProxy(gcs.Server.Port);
        await using GsReplicaClient client = new(new GsReplicaSettings { Bucket = GcsEmulatorFixture.Bucket, Path = S3rverFixture.NewPath("give-up"), MaxRetries = 2 }, proxy.Endpoint, credentials: null)
        {
            ResumableChunkSize = Chunk,
        };
        proxy.Inject(FaultProxy.Fault.CutRequestBody, r => r.StartsWith("PUT ", StringComparison.Ordinal) && r.Contains("upload_id=", StringComparison.Ordinal));
        byte[] data = RandomLtx(1, 1, 2 * Chunk + 1);

        var e = await Assert.ThrowsAsync<ReplicaStorageException>(async () => await client.WriteLtxFileAsync(0, new Txid(1), new Txid(1), new MemoryStream(data), default));

        Assert.StartsWith($"gs: put gs://{GcsEmulatorFixture.Bucket}/{client.Path}/ltx/0/0000000000000001-0000000000000001.ltx: ", e.Message);
        proxy.Inject(null);
        Assert.Empty(await client.ListLtxFilesAsync(0, Txid.Zero, useMetadata: false, default).ToListAsync());
    }

    private GsReplicaClient Client(FaultProxy proxy, string name)
        => new(new GsReplicaSettings { Bucket = GcsEmulatorFixture.Bucket, Path = S3rverFixture.NewPath(name) }, proxy.Endpoint, credentials: null) { ResumableChunkSize = Chunk };

    /// <summary>An LTX header, then random bytes: a chunk sent twice or skipped cannot read back equal.</summary>
    private static byte[] RandomLtx(ulong min, ulong max, int size)
    {
        byte[] bytes = ReplicaClientConformanceTests.Ltx(min, max, 1_700_000_000_000, LtxConstants.HeaderSize);
        Array.Resize(ref bytes, size);
        RandomNumberGenerator.Fill(bytes.AsSpan(LtxConstants.HeaderSize));
        return bytes;
    }

    private static async Task<byte[]> ReadAllAsync(GsReplicaClient client, ulong min, ulong max)
    {
        await using Stream stream = await client.OpenLtxFileAsync(0, new Txid(min), new Txid(max), 0, 0, default);
        var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        return copy.ToArray();
    }
}
