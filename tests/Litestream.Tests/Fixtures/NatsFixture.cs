using Litestream.Storage.Nats;

namespace Litestream.Tests.Fixtures;

/// <summary>One nats-server -js for every test of the "nats" collection, started by the first test that needs it.</summary>
public sealed class NatsFixture : IDisposable
{
    private readonly Lazy<NatsServer> _server = new(() => new NatsServer());

    public NatsServer Server => _server.Value;

    /// <summary>Makes an object store bucket (litestream needs one made beforehand, as upstream).</summary>
    public async Task<string> CreateBucketAsync(string name)
    {
        string bucket = S3rverFixture.NewPath(name);
        await Server.CreateBucketAsync(bucket);
        return bucket;
    }

    /// <summary>Settings for a replica under a prefix in a new bucket of its own, logging in as the server's user.</summary>
    public NatsReplicaSettings Settings(string name) => new()
    {
        Host = Server.HostPort,
        Bucket = CreateBucketAsync(name).GetAwaiter().GetResult(),
        Username = NatsServer.User,
        Password = Server.Password,
        Path = "db/" + name,
    };

    public NatsReplicaClient Client(string name) => new(Settings(name));

    public void Dispose()
    {
        if (_server.IsValueCreated)
        {
            _server.Value.Dispose();
        }
    }
}

[CollectionDefinition("nats")]
public sealed class NatsCollection : ICollectionFixture<NatsFixture>;
