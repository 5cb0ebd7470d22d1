using Litestream.Ltx;
using Litestream.Storage;
using Litestream.Storage.Nats;
using Litestream.Tests.Fixtures;

namespace Litestream.Tests.Storage;

/// <summary>The replica client contract on the NATS backend, against a local nats-server -js (JetStream object store).</summary>
[Collection("nats")]
[Requires(Need.NatsServer)]
public sealed class NatsReplicaClientConformanceTests(NatsFixture nats) : ReplicaClientConformanceTests
{
    protected override IReplicaClient CreateClient() => nats.Client("conformance");

    // Another program's object inside the level's prefix, written with the NATS client itself.
    protected override async Task WriteForeignFileAsync(IReplicaClient client, int level, string name)
    {
        var natsClient = (NatsReplicaClient)client;
        await nats.Server.WithBucketAsync(natsClient.Bucket, async store => await store.PutAsync(natsClient.LevelPrefix(level) + name, "not an ltx file"u8.ToArray()));
    }

    protected override string Location(IReplicaClient client, int level, Txid min, Txid max)
        => ((NatsReplicaClient)client).Location(((NatsReplicaClient)client).LtxName(level, min, max));

    protected override bool ListingCarriesHeaderTimestamp => true;
}
