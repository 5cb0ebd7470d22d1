using Litestream.Ltx;
using Litestream.Storage;

namespace Litestream.Tests.Storage;

/// <summary>
/// The <see cref="IReplicaClient"/> contract, once for every backend (upstream's RunWithReplicaClient):
/// each backend derives a small class that says how to make an empty replica and where its files live.
/// </summary>
public abstract class ReplicaClientConformanceTests
{
    protected const long T1 = 1_700_000_001_234; // 2023-11-14T22:13:21.234Z
    protected const long T2 = 1_700_000_002_000;

    /// <summary>A client on a new, empty replica.</summary>
    protected abstract IReplicaClient CreateClient();

    /// <summary>Stores an object named <paramref name="name"/> inside a level that is not an LTX file name.</summary>
    protected abstract Task WriteForeignFileAsync(IReplicaClient client, int level, string name);

    /// <summary>The location a not-found error names for one file.</summary>
    protected abstract string Location(IReplicaClient client, int level, Txid min, Txid max);

    /// <summary>True when a plain listing already carries the header timestamp (file mtime); false when it carries the storage's write time (S3 LastModified).</summary>
    protected abstract bool ListingCarriesHeaderTimestamp { get; }

    /// <summary>True when the backend copies a file to another level inside the storage (<see cref="IReplicaClient.CopyLtxFileAsync"/>).</summary>
    protected virtual bool CopiesInStorage => false;

    /// <summary>When the listing carries the header timestamp: to this resolution (SFTP v3 file times are whole seconds).</summary>
    protected virtual TimeSpan ListingTimestampResolution => TimeSpan.FromMilliseconds(1);

    /// <summary>A valid LTX header followed by bytes that depend on the position and <paramref name="min"/>.</summary>
    public static byte[] Ltx(ulong min, ulong max, long timestamp, int size)
    {
        byte[] bytes = new byte[size];
        new LtxHeader { PageSize = 512, Commit = 1, MinTxid = new Txid(min), MaxTxid = new Txid(max), Timestamp = timestamp, Flags = 2 }.Write(bytes);
        for (int i = LtxConstants.HeaderSize; i < size; i++)
        {
            bytes[i] = (byte)((i * 31) + (int)min);
        }
        return bytes;
    }

    protected static async Task<LtxFileInfo> WriteAsync(IReplicaClient client, int level, ulong min, ulong max, long timestamp, int size)
        => await client.WriteLtxFileAsync(level, new Txid(min), new Txid(max), new MemoryStream(Ltx(min, max, timestamp, size)), default);

    protected static async Task<List<LtxFileInfo>> ListAsync(IReplicaClient client, int level, ulong seek = 0, bool useMetadata = false)
    {
        var files = new List<LtxFileInfo>();
        await foreach (LtxFileInfo file in client.ListLtxFilesAsync(level, new Txid(seek), useMetadata, default))
        {
            files.Add(file);
        }
        return files;
    }

    protected static async Task<byte[]> ReadAsync(IReplicaClient client, int level, ulong min, ulong max, long offset = 0, long size = 0)
    {
        await using Stream stream = await client.OpenLtxFileAsync(level, new Txid(min), new Txid(max), offset, size, default);
        var buffer = new MemoryStream();
        await stream.CopyToAsync(buffer);
        return buffer.ToArray();
    }

    private static string Names(IEnumerable<LtxFileInfo> files) => string.Join(" ", files.Select(f => $"{f.Level}:{f.MinTxid.Value}-{f.MaxTxid.Value}/{f.Size}"));

    [RequiresFact]
    public async Task Write_ReturnsSizeAndHeaderTimestamp()
    {
        await using IReplicaClient client = CreateClient();
        await client.InitAsync(default);
        await client.InitAsync(default); // idempotent
        LtxFileInfo info = await WriteAsync(client, 0, 1, 1, T1, 300);
        Assert.Equal(new LtxFileInfo(0, new Txid(1), new Txid(1), 300, DateTimeOffset.FromUnixTimeMilliseconds(T1)), info);
        Assert.Equal(Ltx(1, 1, T1, 300), await ReadAsync(client, 0, 1, 1));
    }

    [RequiresFact]
    public async Task Copy_ToAnotherLevel_SameBytesAndTimestamp()
    {
        await using IReplicaClient client = CreateClient();
        await client.InitAsync(default);
        LtxFileInfo source = await WriteAsync(client, 1, 5, 7, T1, 777);
        await WriteAsync(client, 2, 5, 7, T2, 100); // an older copy at the target is replaced
        LtxFileInfo? copied = await client.CopyLtxFileAsync(source, 2, default);
        if (!CopiesInStorage)
        {
            Assert.Null(copied);
            return;
        }
        Assert.Equal(source with { Level = 2 }, copied);
        Assert.Equal(Ltx(5, 7, T1, 777), await ReadAsync(client, 2, 5, 7));
        Assert.Equal(Ltx(5, 7, T1, 777), await ReadAsync(client, 1, 5, 7));
        LtxFileInfo listed = Assert.Single(await ListAsync(client, 2, useMetadata: true));
        Assert.Equal((2, 777L, DateTimeOffset.FromUnixTimeMilliseconds(T1)), (listed.Level, listed.Size, listed.CreatedAt));
    }

    [RequiresFact]
    public async Task Write_NonSeekableSource_StoresEveryByte()
    {
        await using IReplicaClient client = CreateClient();
        byte[] data = Ltx(2, 3, T2, 4321);
        LtxFileInfo info = await client.WriteLtxFileAsync(1, new Txid(2), new Txid(3), new NonSeekableStream(data), default);
        Assert.Equal(new LtxFileInfo(1, new Txid(2), new Txid(3), 4321, DateTimeOffset.FromUnixTimeMilliseconds(T2)), info);
        Assert.Equal(data, await ReadAsync(client, 1, 2, 3));
    }

    [RequiresFact]
    public async Task Write_SameFileTwice_SecondContentWins()
    {
        await using IReplicaClient client = CreateClient();
        await WriteAsync(client, 0, 4, 4, T1, 200);
        await WriteAsync(client, 0, 4, 4, T2, 250);
        Assert.Equal(Ltx(4, 4, T2, 250), await ReadAsync(client, 0, 4, 4));
        Assert.Equal("0:4-4/250", Names(await ListAsync(client, 0)));
    }

    [RequiresFact]
    public async Task List_OrderedByMinThenMax_IgnoresOtherNames()
    {
        await using IReplicaClient client = CreateClient();
        await WriteAsync(client, 1, 5, 7, T1, 150);
        await WriteAsync(client, 1, 1, 4, T1, 160);
        await WriteAsync(client, 1, 16, 16, T1, 170);
        await WriteAsync(client, 1, 1, 2, T1, 180);
        await WriteAsync(client, 1, 8, 15, T1, 190);
        await WriteForeignFileAsync(client, 1, "junk.txt");
        await WriteForeignFileAsync(client, 1, "0000000000000003-0000000000000003.ltx.tmp");
        Assert.Equal("1:1-2/180 1:1-4/160 1:5-7/150 1:8-15/190 1:16-16/170", Names(await ListAsync(client, 1)));
    }

    [RequiresFact]
    public async Task List_Seek_SkipsFilesBelowSeek()
    {
        await using IReplicaClient client = CreateClient();
        for (ulong txid = 1; txid <= 5; txid++)
        {
            await WriteAsync(client, 0, txid, txid, T1, 100 + (int)txid);
        }
        Assert.Equal("0:1-1/101 0:2-2/102 0:3-3/103 0:4-4/104 0:5-5/105", Names(await ListAsync(client, 0, seek: 0)));
        Assert.Equal("0:3-3/103 0:4-4/104 0:5-5/105", Names(await ListAsync(client, 0, seek: 3)));
        Assert.Equal("0:5-5/105", Names(await ListAsync(client, 0, seek: 5)));
        Assert.Empty(await ListAsync(client, 0, seek: 6));
    }

    [RequiresFact]
    public async Task List_LevelsAreSeparate_AndMissingLevelIsEmpty()
    {
        await using IReplicaClient client = CreateClient();
        Assert.Empty(await ListAsync(client, 0));
        await WriteAsync(client, 0, 6, 6, T1, 110);
        await WriteAsync(client, 1, 1, 6, T1, 120);
        await WriteAsync(client, 9, 1, 6, T1, 130);
        Assert.Equal("0:6-6/110", Names(await ListAsync(client, 0)));
        Assert.Equal("1:1-6/120", Names(await ListAsync(client, 1)));
        Assert.Equal("9:1-6/130", Names(await ListAsync(client, 9)));
        Assert.Empty(await ListAsync(client, 2));
    }

    [RequiresFact]
    public async Task List_Timestamps_HeaderWithMetadata_WriteTimeWithout()
    {
        await using IReplicaClient client = CreateClient();
        DateTimeOffset before = DateTimeOffset.UtcNow;
        await WriteAsync(client, 0, 1, 1, T1, 200);
        await WriteAsync(client, 0, 2, 2, T2, 200);
        DateTimeOffset after = DateTimeOffset.UtcNow;

        List<LtxFileInfo> accurate = await ListAsync(client, 0, useMetadata: true);
        Assert.Equal([DateTimeOffset.FromUnixTimeMilliseconds(T1), DateTimeOffset.FromUnixTimeMilliseconds(T2)], accurate.Select(f => f.CreatedAt));

        List<LtxFileInfo> fast = await ListAsync(client, 0, useMetadata: false);
        Assert.Equal(2, fast.Count);
        foreach (LtxFileInfo file in fast)
        {
            if (ListingCarriesHeaderTimestamp)
            {
                DateTimeOffset header = accurate.Single(f => f.MinTxid == file.MinTxid).CreatedAt;
                Assert.Equal(header.AddTicks(-(header.UtcTicks % ListingTimestampResolution.Ticks)), file.CreatedAt);
            }
            else
            {
                // Storage write time; S3 LastModified has one-second resolution on some servers.
                Assert.InRange(file.CreatedAt, before.AddSeconds(-2), after.AddSeconds(2));
            }
        }
    }

    [RequiresFact]
    public async Task Open_Ranges_ReturnExactlyThoseBytes()
    {
        await using IReplicaClient client = CreateClient();
        byte[] data = Ltx(3, 9, T1, 1000);
        await WriteAsync(client, 2, 3, 9, T1, 1000);
        Assert.Equal(data, await ReadAsync(client, 2, 3, 9));
        Assert.Equal(data[100..150], await ReadAsync(client, 2, 3, 9, offset: 100, size: 50));
        Assert.Equal(data[..1], await ReadAsync(client, 2, 3, 9, offset: 0, size: 1));
        Assert.Equal(data[700..], await ReadAsync(client, 2, 3, 9, offset: 700));
        Assert.Equal(data[999..], await ReadAsync(client, 2, 3, 9, offset: 999, size: 1));
    }

    [RequiresFact]
    public async Task Open_Missing_ThrowsReplicaFileNotFound()
    {
        await using IReplicaClient client = CreateClient();
        await WriteAsync(client, 0, 1, 1, T1, 200);
        ReplicaFileNotFoundException error = await Assert.ThrowsAsync<ReplicaFileNotFoundException>(
            async () => await client.OpenLtxFileAsync(0, new Txid(5), new Txid(5), 0, 0, default));
        Assert.Equal($"replica file not found: {Location(client, 0, new Txid(5), new Txid(5))}", error.Message);
        await Assert.ThrowsAsync<ReplicaFileNotFoundException>(async () => await client.OpenLtxFileAsync(3, new Txid(1), new Txid(1), 10, 5, default));
    }

    [RequiresFact]
    public async Task Delete_RemovesOnlyGivenFiles_IgnoresMissing()
    {
        await using IReplicaClient client = CreateClient();
        LtxFileInfo a = await WriteAsync(client, 0, 1, 1, T1, 101);
        LtxFileInfo b = await WriteAsync(client, 0, 2, 2, T1, 102);
        await WriteAsync(client, 0, 3, 3, T1, 103);
        var gone = new LtxFileInfo(0, new Txid(40), new Txid(40), 1, DateTimeOffset.UnixEpoch);
        await client.DeleteLtxFilesAsync([a, b, gone], default);
        Assert.Equal("0:3-3/103", Names(await ListAsync(client, 0)));
        await client.DeleteLtxFilesAsync([], default);
        Assert.Equal("0:3-3/103", Names(await ListAsync(client, 0)));
    }

    [RequiresFact]
    public async Task DeleteAll_EmptiesEveryLevel_ThenWritesWorkAgain()
    {
        await using IReplicaClient client = CreateClient();
        await WriteAsync(client, 0, 1, 1, T1, 100);
        await WriteAsync(client, 1, 1, 1, T1, 100);
        await WriteAsync(client, 9, 1, 1, T1, 100);
        await client.DeleteAllAsync(default);
        Assert.Empty(await ListAsync(client, 0));
        Assert.Empty(await ListAsync(client, 1));
        Assert.Empty(await ListAsync(client, 9));
        await client.DeleteAllAsync(default); // nothing left: still fine
        await WriteAsync(client, 0, 2, 2, T2, 120);
        Assert.Equal("0:2-2/120", Names(await ListAsync(client, 0)));
    }

    /// <summary>More files than one listing page holds (S3 and Azure pages here are 1000): every file once, in order, and seek across the page boundary.</summary>
    [RequiresFact]
    public async Task List_OverThousandFiles_PagesInOrder_SeekAcrossPages()
    {
        await using IReplicaClient client = CreateClient();
        const int count = 1050;
        await Parallel.ForAsync(1, count + 1, new ParallelOptions { MaxDegreeOfParallelism = 16 },
            async (i, _) => await WriteAsync(client, 3, (ulong)i, (ulong)i, T1, 100 + (i % 7)));
        List<LtxFileInfo> all = await ListAsync(client, 3);
        Assert.Equal(Enumerable.Range(1, count).Select(i => (ulong)i), all.Select(f => f.MinTxid.Value));
        Assert.Equal(Enumerable.Range(1, count).Select(i => 100L + (i % 7)), all.Select(f => f.Size));
        List<LtxFileInfo> tail = await ListAsync(client, 3, seek: 990, useMetadata: true);
        Assert.Equal(Enumerable.Range(990, count - 989).Select(i => (ulong)i), tail.Select(f => f.MinTxid.Value));
        Assert.All(tail, f => Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(T1), f.CreatedAt));
    }

    /// <summary>
    /// A reader polling a file while a large write of it is in flight (multipart / staged blocks on object
    /// stores, a temp file elsewhere) sees no file, then the whole new file: never a part of it.
    /// </summary>
    [RequiresFact]
    public async Task Write_Large_ReadersNeverSeeAPartialFile()
    {
        await using IReplicaClient client = CreateClient();
        byte[] data = Ltx(7, 8, T2, (11 * 1024 * 1024) + 17);
        using var gate = new SemaphoreSlim(0);
        var source = new GatedStream(data, gate);
        Task<LtxFileInfo> write = client.WriteLtxFileAsync(2, new Txid(7), new Txid(8), source, default).AsTask();
        int seenMissing = 0;
        // Poll while the writer is still being fed: the commit itself is the server's (s3rver assembles a
        // completed multipart object in place, which real S3 does not).
        while (!write.IsCompleted && !source.FullyReleased)
        {
            try
            {
                byte[] seen = await ReadAsync(client, 2, 7, 8);
                Assert.Equal(data, seen); // present means complete
            }
            catch (ReplicaFileNotFoundException)
            {
                seenMissing++;
            }
            gate.Release(); // let the writer produce one more megabyte
            await Task.WhenAny(write, Task.Delay(20)); // paces the reader's polls, not a wait for something
        }
        gate.Release(int.MaxValue / 2);
        Assert.Equal(data.Length, (await write).Size);
        Assert.True(seenMissing > 3, $"the reader polled only {seenMissing} times during the write");
        Assert.Equal(data, await ReadAsync(client, 2, 7, 8));
    }

    /// <summary>A non-seekable source that hands out one megabyte per release of <paramref name="gate"/>, so a test can read while a write is in flight.</summary>
    private sealed class GatedStream(byte[] data, SemaphoreSlim gate) : Stream
    {
        private const int Chunk = 1024 * 1024;
        private int _position;
        private int _allowed;

        /// <summary>Every byte has been handed out or allowed: the writer can finish without another release.</summary>
        public bool FullyReleased => Volatile.Read(ref _allowed) == data.Length;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count).GetAwaiter().GetResult();

        public override async Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
            => await ReadAsync(buffer.AsMemory(offset, count), cancellationToken);

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_position == data.Length)
            {
                return 0;
            }
            if (_position == _allowed)
            {
                await gate.WaitAsync(cancellationToken);
                Volatile.Write(ref _allowed, Math.Min(data.Length, _allowed + Chunk));
            }
            int n = Math.Min(buffer.Length, _allowed - _position);
            data.AsSpan(_position, n).CopyTo(buffer.Span);
            _position += n;
            return n;
        }

        public override void Flush()
        {
        }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>A read-only stream that hides its length, as a pipe or compaction output would.</summary>
    public sealed class NonSeekableStream(byte[] data) : Stream
    {
        private readonly MemoryStream _inner = new(data);

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, Math.Min(count, 7000));
        public override void Flush()
        {
        }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
