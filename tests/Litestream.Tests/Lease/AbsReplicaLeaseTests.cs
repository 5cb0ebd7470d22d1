using Litestream.Storage;
using Litestream.Tests.Fixtures;

namespace Litestream.Tests.Lease;

/// <summary>The lease on Azure Blob (Azurite implements If-Match / If-None-Match natively).</summary>
[Collection("azurite")]
[Requires(Need.Azurite)]
public sealed class AbsReplicaLeaseTests(AzuriteFixture azure) : ReplicaLeaseTests
{
    protected override IReplicaClient CreateClient(string path) => azure.Client(path);
}
