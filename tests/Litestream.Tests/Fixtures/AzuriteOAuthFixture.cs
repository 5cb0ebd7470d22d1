using Azure.Core.Pipeline;
using Azure.Storage;
using Azure.Storage.Blobs;
using Litestream.Storage.Abs;

namespace Litestream.Tests.Fixtures;

/// <summary>
/// Azurite over TLS with <c>--oauth basic</c> and a loopback Entra ID token endpoint, for replicas authorized by
/// tokens (no key, no SAS): the client gets a service principal's token from the endpoint and Azurite checks its
/// issuer, audience and lifetime. Started by the first test that needs it, with the container <see cref="Container"/>.
/// </summary>
public sealed class AzuriteOAuthFixture : IDisposable
{
    /// <summary>The container every test's replica lives in (each under its own path).</summary>
    public const string Container = "oauth-replicas";
    private const string ClientId = "3f0c2a9e-1b7d-4c55-8e21-6a4b9d0c7e13";

    private readonly Lazy<(Azurite Server, EntraTokenEndpoint Tokens)> _servers = new(() =>
    {
        var tokens = new EntraTokenEndpoint();
        Azurite server = Azurite.WithOAuth();
        RawContainer(server, Container).CreateIfNotExists();
        return (server, tokens);
    });

    public Azurite Server => _servers.Value.Server;

    public EntraTokenEndpoint Tokens => _servers.Value.Tokens;

    /// <summary>The environment of a service principal whose tokens come from <see cref="Tokens"/>.</summary>
    public IReadOnlyDictionary<string, string> Environment => new Dictionary<string, string>
    {
        ["AZURE_TENANT_ID"] = EntraTokenEndpoint.Tenant,
        ["AZURE_CLIENT_ID"] = ClientId,
        ["AZURE_CLIENT_SECRET"] = "oauth-fixture-secret",
        ["AZURE_AUTHORITY_HOST"] = Tokens.Url,
    };

    /// <summary>Settings for a replica at <paramref name="path"/> in <see cref="Container"/>: the account, no key, no SAS.</summary>
    public AbsReplicaSettings Settings(string path) => new()
    {
        Bucket = Container,
        Path = path,
        Endpoint = Server.Endpoint,
        AccountName = Azurite.Account,
    };

    /// <summary>A client with the service principal's environment, trusting Azurite's certificate.</summary>
    public AbsReplicaClient Client(string path)
    {
        IReadOnlyDictionary<string, string> environment = Environment;
        return new(Settings(path), name => environment.GetValueOrDefault(name), Server.Trust);
    }

    /// <summary>A plain SDK client on a container (shared key, which Azurite still accepts), to look at what the replica client stored.</summary>
    public BlobContainerClient RawContainer(string container = Container) => RawContainer(Server, container);

    private static BlobContainerClient RawContainer(Azurite server, string container)
    {
        var handler = new SocketsHttpHandler();
        server.Trust(handler);
        return new(new Uri($"{server.Endpoint}/{container}"), new StorageSharedKeyCredential(Azurite.Account, Azurite.Key),
            new BlobClientOptions { Transport = new HttpClientTransport(new HttpClient(handler)) });
    }

    public void Dispose()
    {
        if (_servers.IsValueCreated)
        {
            _servers.Value.Server.Dispose();
            _servers.Value.Tokens.Dispose();
        }
    }
}

[CollectionDefinition("azurite-oauth")]
public sealed class AzuriteOAuthCollection : ICollectionFixture<AzuriteOAuthFixture>;
