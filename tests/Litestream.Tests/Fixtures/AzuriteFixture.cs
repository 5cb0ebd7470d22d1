using Azure.Storage;
using Azure.Storage.Blobs;
using Litestream.Storage.Abs;

namespace Litestream.Tests.Fixtures;

/// <summary>One Azurite for every test of the "azurite" collection, started by the first test that needs it, with the container <see cref="Container"/>.</summary>
public sealed class AzuriteFixture : IDisposable
{
    /// <summary>The container every test's replica lives in (each under its own path).</summary>
    public const string Container = "replicas";

    private readonly Lazy<Azurite> _server = new(() =>
    {
        var server = new Azurite();
        RawContainer(server, Container).CreateIfNotExists();
        return server;
    });

    public Azurite Server => _server.Value;

    /// <summary>Settings for a replica at <paramref name="path"/> in <see cref="Container"/>, with Azurite's account and key.</summary>
    public AbsReplicaSettings Settings(string path) => new()
    {
        Bucket = Container,
        Path = path,
        Endpoint = Server.Endpoint,
        AccountName = Azurite.Account,
        AccountKey = Azurite.Key,
    };

    public AbsReplicaClient Client(string path) => new(Settings(path));

    /// <summary>A plain SDK client on a container, to look at what the replica client stored.</summary>
    public BlobContainerClient RawContainer(string container = Container) => RawContainer(Server, container);

    private static BlobContainerClient RawContainer(Azurite server, string container)
        => new(new Uri($"{server.Endpoint}/{container}"), new StorageSharedKeyCredential(Azurite.Account, Azurite.Key));

    public void Dispose()
    {
        if (_server.IsValueCreated)
        {
            _server.Value.Dispose();
        }
    }
}

[CollectionDefinition("azurite")]
public sealed class AzuriteCollection : ICollectionFixture<AzuriteFixture>;
