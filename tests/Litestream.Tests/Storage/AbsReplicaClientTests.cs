using System.Diagnostics;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using Azure.Storage.Sas;
using Litestream.Ltx;
using Litestream.Storage;
using Litestream.Storage.Abs;
using Litestream.Tests.Fixtures;

namespace Litestream.Tests.Storage;

/// <summary>Azure-only behaviour: URL and credentials, the blob layout and metadata, paging, and the errors a user must act on.</summary>
[Collection("azurite")]
public sealed class AbsReplicaClientTests(AzuriteFixture azure)
{
    private const long T1 = 1_700_000_001_234;
    private const string WrongKey = "d3Jvbmcta2V5LXRoYXQtbXVzdC1uZXZlci1sZWFrLTAxMjM0NTY3ODk=";

    [Fact]
    public async Task Create_FromUrl_AccountContainerPathEndpoint()
    {
        await using var client = (AbsReplicaClient)ReplicaClientFactory.Create(new ReplicaSettings
        {
            Url = "abs://acct@box/app/db?endpoint=http://127.0.0.1:9/acct",
            Options = new Dictionary<string, string> { ["account-key"] = WrongKey },
        });
        Assert.Equal(("abs", "box", "app/db", "acct"), (client.Type, client.Container, client.Path, client.Settings.AccountName));
        Assert.Equal("app/db/ltx/9/0000000000000001-0000000000000002.ltx", client.LtxName(9, new Txid(1), new Txid(2)));
        Assert.Equal("abs://box/app/db", client.ToString());
        Assert.Equal("AbsReplicaSettings { Path = app/db, Bucket = box, AccountName = acct, AccountKey = REDACTED, Endpoint = http://127.0.0.1:9/acct }", client.Settings.ToString());
    }

    [Fact]
    public async Task Create_UrlWithoutPath_FilesAtContainerRoot_LikeUpstream()
    {
        await using var client = (AbsReplicaClient)ReplicaClientFactory.Create(new ReplicaSettings
        {
            Url = "abs://acct@box",
            Options = new Dictionary<string, string> { ["sas-token"] = "?sv=2024&sig=abc" },
        });
        Assert.Equal("ltx/0/0000000000000001-0000000000000001.ltx", client.LtxName(0, new Txid(1), new Txid(1)));
    }

    [Theory]
    [InlineData(null, "k", "abs replica requires a container (bucket)")]
    [InlineData("box", "not base64!", "abs account-key is not valid base64")]
    public void Create_BadSettings_SpecificError_NoSecret(string? container, string? key, string message)
    {
        var error = Assert.Throws<ArgumentException>(() => new AbsReplicaClient(new AbsReplicaSettings { Bucket = container, AccountName = "acct", AccountKey = key }));
        Assert.Equal(message, error.Message);
    }

    [Fact]
    public void Create_NoKeyNoSas_OverHttp_RefusedBeforeAnyTokenIsSent()
    {
        var error = Assert.Throws<ArgumentException>(() => new AbsReplicaClient(new AbsReplicaSettings { Bucket = "box", Endpoint = "http://127.0.0.1:9/acct" },
            _ => null, configureHandler: null));
        Assert.Equal("abs: without account-key or sas-token the endpoint must be https (Entra ID tokens are not sent in clear), got \"http://127.0.0.1:9/acct\"", error.Message);
    }

    [Theory]
    [InlineData("", "the managed identity at IMDS (no account-key, sas-token or AZURE_CLIENT_SECRET)")]
    [InlineData("AZURE_CLIENT_ID=c1", "the managed identity c1 at IMDS (no account-key, sas-token or AZURE_CLIENT_SECRET)")]
    [InlineData("AZURE_CLIENT_ID=c1 AZURE_TENANT_ID=t1 AZURE_CLIENT_SECRET=s1", "service principal c1 (AZURE_CLIENT_SECRET)")]
    [InlineData("AZURE_CLIENT_ID=c1 AZURE_TENANT_ID=t1 AZURE_FEDERATED_TOKEN_FILE=/var/run/token", "workload identity c1 (AZURE_FEDERATED_TOKEN_FILE /var/run/token)")]
    [InlineData("IDENTITY_ENDPOINT=http://169.254.129.3:8081/msi/token IDENTITY_HEADER=h1", "the App Service managed identity (IDENTITY_ENDPOINT)")]
    [InlineData("LITESTREAM_AZURE_ACCOUNT_KEY=" + WrongKey + " AZURE_CLIENT_ID=c1 AZURE_TENANT_ID=t1 AZURE_CLIENT_SECRET=s1", null)]
    [InlineData("AZURE_STORAGE_SAS_TOKEN=sv=1 IDENTITY_ENDPOINT=http://127.0.0.1:1/ IDENTITY_HEADER=h1", null)]
    public async Task Create_NoKeyNoSas_EntraIdTokens_FromTheEnvironment_AsUpstreamsDefaultChain(string environment, string? source)
    {
        Dictionary<string, string> variables = environment.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(v => v.Split('=', 2)).ToDictionary(v => v[0], v => v[1]);
        await using var client = new AbsReplicaClient(new AbsReplicaSettings { Bucket = "box", AccountName = "acct" }, variables.GetValueOrDefault, configureHandler: null);
        Assert.Equal(source, client.TokenSource);
    }

    [Fact]
    public void Create_NoAccountNoEndpoint_SaysWhichIsMissing()
        => Assert.Equal("abs replica requires account-name (or AZURE_STORAGE_ACCOUNT) or endpoint",
            Assert.Throws<ArgumentException>(() => new AbsReplicaClient(new AbsReplicaSettings { Bucket = "box", AccountKey = WrongKey })).Message);

    [RequiresFact(Need.Azurite)]
    public async Task Write_StoresUpstreamLayoutAndTimestampMetadata()
    {
        string path = S3rverFixture.NewPath("layout");
        await using AbsReplicaClient client = azure.Client(path);
        await client.WriteLtxFileAsync(9, new Txid(1), new Txid(5), new MemoryStream(ReplicaClientConformanceTests.Ltx(1, 5, T1, 300)), default);
        BlobProperties properties = (await azure.RawContainer().GetBlobClient($"{path}/ltx/9/0000000000000001-0000000000000005.ltx").GetPropertiesAsync()).Value;
        Assert.Equal(("2023-11-14T22:13:21.234Z", 300L), (properties.Metadata[AbsReplicaClient.TimestampMetadataKey], properties.ContentLength));
    }

    [RequiresFact(Need.Azurite)]
    public async Task List_SmallPages_EveryFileOnce()
    {
        await using AbsReplicaClient client = azure.Client(S3rverFixture.NewPath("paging"));
        client.ListPageSize = 2;
        for (ulong txid = 1; txid <= 7; txid++)
        {
            await client.WriteLtxFileAsync(0, new Txid(txid), new Txid(txid), new MemoryStream(ReplicaClientConformanceTests.Ltx(txid, txid, T1, 120)), default);
        }
        var seen = new List<ulong>();
        await foreach (LtxFileInfo file in client.ListLtxFilesAsync(0, new Txid(3), useMetadata: false, default))
        {
            seen.Add(file.MinTxid.Value);
        }
        Assert.Equal([3UL, 4, 5, 6, 7], seen);
    }

    [RequiresFact(Need.Azurite)]
    public async Task Write_LargerThanABlock_FromAStreamThatCannotSeek_StagedBlocksCommittedWhole()
    {
        string path = S3rverFixture.NewPath("blocks");
        await using AbsReplicaClient client = azure.Client(path);
        // Three full blocks and a short one, in a stream without a length.
        byte[] data = ReplicaClientConformanceTests.Ltx(1, 9, T1, 3 * AbsReplicaClient.BlockSize + 12345);
        LtxFileInfo written = await client.WriteLtxFileAsync(0, new Txid(1), new Txid(9), new OneWayStream(data), default);
        Assert.Equal(data.Length, written.Size);

        BlobProperties properties = (await azure.RawContainer().GetBlobClient(client.LtxName(0, new Txid(1), new Txid(9))).GetPropertiesAsync()).Value;
        Assert.Equal((BlobType.Block, "application/octet-stream", (long)data.Length, "2023-11-14T22:13:21.234Z"),
            (properties.BlobType, properties.ContentType, properties.ContentLength, properties.Metadata[AbsReplicaClient.TimestampMetadataKey]));
        BlockList blocks = (await azure.RawContainer().GetBlockBlobClient(client.LtxName(0, new Txid(1), new Txid(9))).GetBlockListAsync()).Value;
        Assert.Equal(new long[] { AbsReplicaClient.BlockSize, AbsReplicaClient.BlockSize, AbsReplicaClient.BlockSize, 12345 },
            blocks.CommittedBlocks.Select(b => b.SizeLong));
        using var read = new MemoryStream();
        await using (Stream body = await client.OpenLtxFileAsync(0, new Txid(1), new Txid(9), 0, 0, default))
        {
            await body.CopyToAsync(read);
        }
        Assert.True(data.AsSpan().SequenceEqual(read.ToArray()));
    }

    [RequiresFact(Need.Azurite)]
    public async Task SasToken_WriteListReadCopyDelete_NoKeyNeeded_TokenNeverPrinted()
    {
        string path = S3rverFixture.NewPath("sas");
        Uri sasUri = azure.RawContainer().GenerateSasUri(BlobContainerSasPermissions.All, DateTimeOffset.UtcNow.AddHours(1));
        string sas = sasUri.Query;
        await using var client = new AbsReplicaClient(azure.Settings(path) with { AccountKey = null, SasToken = sas }, _ => null, configureHandler: null);
        await client.WriteLtxFileAsync(0, new Txid(1), new Txid(2), new MemoryStream(ReplicaClientConformanceTests.Ltx(1, 2, T1, 500)), default);
        LtxFileInfo file = Assert.Single(await client.ListLtxFilesAsync(0, Txid.Zero, false, default).ToListAsync());
        Assert.Equal((1UL, 2UL, 500L), (file.MinTxid.Value, file.MaxTxid.Value, file.Size));
        Assert.NotNull(await client.CopyLtxFileAsync(file, 1, default));
        await using (Stream body = await client.OpenLtxFileAsync(1, new Txid(1), new Txid(2), 100, 50, default))
        {
            using var read = new MemoryStream();
            await body.CopyToAsync(read);
            Assert.Equal(ReplicaClientConformanceTests.Ltx(1, 2, T1, 500).AsSpan(100, 50).ToArray(), read.ToArray());
        }
        await client.DeleteAllAsync(default);
        Assert.Empty(await client.ListLtxFilesAsync(1, Txid.Zero, false, default).ToListAsync());

        // A SAS that does not allow writes: Azure's refusal, one line, and the signature appears nowhere.
        Uri readOnly = azure.RawContainer().GenerateSasUri(BlobContainerSasPermissions.Read | BlobContainerSasPermissions.List, DateTimeOffset.UtcNow.AddHours(1));
        await using var reader = new AbsReplicaClient(azure.Settings(path) with { AccountKey = null, SasToken = readOnly.Query }, _ => null, configureHandler: null);
        ReplicaStorageException error = await Assert.ThrowsAsync<ReplicaStorageException>(async () =>
            await reader.WriteLtxFileAsync(0, new Txid(3), new Txid(3), new MemoryStream(ReplicaClientConformanceTests.Ltx(3, 3, T1, 200)), default));
        Assert.StartsWith($"abs: put {azure.Server.Endpoint}/{AzuriteFixture.Container}/{path}/ltx/0/0000000000000003-0000000000000003.ltx: ", error.Message);
        Assert.Contains("(HTTP 403)", error.Message);
        string signature = System.Web.HttpUtility.ParseQueryString(readOnly.Query)["sig"]!;
        Assert.DoesNotContain(signature, error.ToString());
        Assert.DoesNotContain(Uri.EscapeDataString(signature), error.ToString());
    }

    [RequiresFact(Need.Azurite)]
    public async Task List_WrongKey_OneLineNamingHostAndPath_HintsCredentials_NeverTheKey()
    {
        string path = S3rverFixture.NewPath("denied");
        await using var client = new AbsReplicaClient(azure.Settings(path) with { AccountKey = WrongKey });
        ReplicaStorageException error = await Assert.ThrowsAsync<ReplicaStorageException>(async () => await client.ListLtxFilesAsync(0, Txid.Zero, false, default).ToListAsync());
        Assert.StartsWith($"abs: list {azure.Server.Endpoint}/{AzuriteFixture.Container}/{path}/ltx/0/: AuthorizationFailure (HTTP 403): ", error.Message);
        Assert.DoesNotContain('\n', error.Message);
        Assert.StartsWith("check account-name and account-key or sas-token", error.Hint);
        Assert.DoesNotContain(WrongKey, error.ToString());
    }

    [RequiresFact(Need.Azurite)]
    public async Task Write_MissingContainer_NamesIt_HintsCreatingIt()
    {
        await using var client = new AbsReplicaClient(azure.Settings("db") with { Bucket = "no-such-container" });
        ReplicaStorageException error = await Assert.ThrowsAsync<ReplicaStorageException>(async () =>
            await client.WriteLtxFileAsync(0, new Txid(1), new Txid(1), new MemoryStream(ReplicaClientConformanceTests.Ltx(1, 1, T1, 200)), default));
        Assert.StartsWith($"abs: put {azure.Server.Endpoint}/no-such-container/db/ltx/0/0000000000000001-0000000000000001.ltx: ContainerNotFound (HTTP 404): ", error.Message);
        Assert.Equal("create the container \"no-such-container\" in the storage account, or fix the container in the replica URL", error.Hint);
        await Assert.ThrowsAsync<ReplicaStorageException>(async () => await client.OpenLtxFileAsync(0, new Txid(1), new Txid(1), 0, 0, default));
    }

    [Fact]
    public async Task List_UnreachableHost_FailsWithinSeconds_HintsEndpoint()
    {
        int port = LocalServer.FreePort();
        await using var client = new AbsReplicaClient(new AbsReplicaSettings
        {
            Bucket = "box",
            Path = "db",
            Endpoint = $"http://127.0.0.1:{port}/acct",
            AccountName = "acct",
            AccountKey = WrongKey,
            MaxRetries = 1,
        });
        var clock = Stopwatch.StartNew();
        ReplicaStorageException error = await Assert.ThrowsAsync<ReplicaStorageException>(async () => await client.ListLtxFilesAsync(0, Txid.Zero, false, default).ToListAsync());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"failed after {clock.Elapsed}");
        Assert.StartsWith($"abs: list http://127.0.0.1:{port}/acct/box/db/ltx/0/: ", error.Message);
        Assert.Contains("Connection refused", error.Message);
        Assert.Equal("check the endpoint (account-name or endpoint) and the network", error.Hint);
    }

    [Fact]
    public async Task Get_BlackHoledHost_BoundedByTheConnectTimeout()
    {
        // A listener that never accepts (backlog full) stands for a host that drops SYNs.
        using var silent = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        silent.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        silent.Listen(0);
        int port = ((System.Net.IPEndPoint)silent.LocalEndPoint!).Port;
        var fillers = new List<System.Net.Sockets.Socket>();
        for (int i = 0; i < 8; i++)
        {
            var filler = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp) { Blocking = false };
            try
            {
                filler.Connect(silent.LocalEndPoint!);
            }
            catch (System.Net.Sockets.SocketException)
            {
                // in progress: the backlog is filling
            }
            fillers.Add(filler);
        }
        await using var client = new AbsReplicaClient(new AbsReplicaSettings
        {
            Bucket = "box",
            Path = "db",
            Endpoint = $"http://127.0.0.1:{port}/acct",
            AccountName = "acct",
            AccountKey = WrongKey,
            MaxRetries = 0,
            ConnectTimeout = TimeSpan.FromSeconds(1),
            RequestTimeout = TimeSpan.FromSeconds(2),
        });
        var clock = Stopwatch.StartNew();
        await Assert.ThrowsAsync<ReplicaStorageException>(async () => await client.OpenLtxFileAsync(0, new Txid(1), new Txid(1), 0, 0, default));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"failed after {clock.Elapsed}");
        fillers.ForEach(f => f.Dispose());
    }

    /// <summary>A source that can only be read forward, as a pipe is.</summary>
    private sealed class OneWayStream(byte[] data) : Stream
    {
        private int _position;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            // Odd-sized reads: blocks must be filled across them.
            int n = Math.Min(Math.Min(count, 100_003), data.Length - _position);
            data.AsSpan(_position, n).CopyTo(buffer.AsSpan(offset, n));
            _position += n;
            return n;
        }

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
