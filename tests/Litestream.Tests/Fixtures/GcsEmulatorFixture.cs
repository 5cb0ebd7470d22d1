using Litestream.Storage.Gs;

namespace Litestream.Tests.Fixtures;

/// <summary>One Cloud Storage emulator for every test of the "gcs" collection, started by the first test that needs it.</summary>
public sealed class GcsEmulatorFixture : IDisposable
{
    /// <summary>The bucket every test's replica lives in (each under its own path).</summary>
    public const string Bucket = "litestream-replicas";

    private readonly Lazy<GcsEmulator> _server = new(() => new GcsEmulator());

    public GcsEmulator Server => _server.Value;

    /// <summary>A client on a replica at <paramref name="path"/> in <see cref="Bucket"/>, as with STORAGE_EMULATOR_HOST set.</summary>
    public GsReplicaClient Client(string path, string bucket = Bucket) => new(new GsReplicaSettings { Bucket = bucket, Path = path }, Server.Host, credentials: null);

    public void Dispose()
    {
        if (_server.IsValueCreated)
        {
            _server.Value.Dispose();
        }
    }
}

[CollectionDefinition("gcs")]
public sealed class GcsEmulatorCollection : ICollectionFixture<GcsEmulatorFixture>;
