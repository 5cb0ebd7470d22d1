using Litestream.Ltx;
using Litestream.Storage;
using Litestream.Storage.Abs;
using Litestream.Tests.Fixtures;

namespace Litestream.Tests.Storage;

/// <summary>
/// The replica client contract on the Azure Blob backend authorized by Entra ID tokens alone (no key, no SAS: a
/// service principal's token from a loopback token endpoint), against Azurite over TLS with <c>--oauth basic</c>.
/// </summary>
[Collection("azurite-oauth")]
[Requires(Need.Azurite)]
public sealed class AbsTokenReplicaClientConformanceTests(AzuriteOAuthFixture azure) : ReplicaClientConformanceTests
{
    protected override IReplicaClient CreateClient()
    {
        AbsReplicaClient client = azure.Client(S3rverFixture.NewPath("oauth-conformance"));
        client.ListPageSize = 1000;
        return client;
    }

    protected override async Task WriteForeignFileAsync(IReplicaClient client, int level, string name)
        => await azure.RawContainer().GetBlobClient(((AbsReplicaClient)client).LevelPrefix(level) + name).UploadAsync(BinaryData.FromString("not an ltx file"));

    protected override string Location(IReplicaClient client, int level, Txid min, Txid max)
        => $"{azure.Server.Endpoint}/{AzuriteOAuthFixture.Container}/{((AbsReplicaClient)client).Path}/ltx/{level}/{LtxFileName.Format(min, max)}";

    protected override bool ListingCarriesHeaderTimestamp => true;

    protected override bool CopiesInStorage => true;
}
