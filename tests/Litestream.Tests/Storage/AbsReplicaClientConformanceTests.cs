using Litestream.Ltx;
using Litestream.Storage;
using Litestream.Storage.Abs;
using Litestream.Tests.Fixtures;

namespace Litestream.Tests.Storage;

/// <summary>The replica client contract on the Azure Blob backend, against a local Azurite.</summary>
[Collection("azurite")]
[Requires(Need.Azurite)]
public sealed class AbsReplicaClientConformanceTests(AzuriteFixture azure) : ReplicaClientConformanceTests
{
    // Pages of 1000 (S3's size) so the 1000+ object listing pages here too; Azure's own default is 5000.
    protected override IReplicaClient CreateClient() => new AbsReplicaClient(azure.Settings(S3rverFixture.NewPath("conformance"))) { ListPageSize = 1000 };

    protected override async Task WriteForeignFileAsync(IReplicaClient client, int level, string name)
        => await azure.RawContainer().GetBlobClient(((AbsReplicaClient)client).LevelPrefix(level) + name).UploadAsync(BinaryData.FromString("not an ltx file"));

    protected override string Location(IReplicaClient client, int level, Txid min, Txid max)
        => $"{azure.Server.Endpoint}/{AzuriteFixture.Container}/{((AbsReplicaClient)client).Path}/ltx/{level}/{LtxFileName.Format(min, max)}";

    protected override bool ListingCarriesHeaderTimestamp => true;

    // Copy Blob within the account (Azurite implements it).
    protected override bool CopiesInStorage => true;
}
