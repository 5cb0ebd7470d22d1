using System.Text;
using Litestream.Ltx;
using Litestream.Storage;
using Litestream.Storage.Gs;
using Litestream.Tests.Fixtures;

namespace Litestream.Tests.Storage;

/// <summary>The replica client contract on the gs backend, against firebase-tools' Cloud Storage emulator.</summary>
[Collection("gcs")]
[Requires(Need.GcsEmulator)]
public sealed class GsReplicaClientConformanceTests(GcsEmulatorFixture gcs) : ReplicaClientConformanceTests
{
    // Pages of 100 so the 1000+ object listing takes several pages.
    protected override IReplicaClient CreateClient() => new GsReplicaClient(new GsReplicaSettings { Bucket = GcsEmulatorFixture.Bucket, Path = S3rverFixture.NewPath("conformance") },
        gcs.Server.Host, credentials: null) { ListPageSize = 100 };

    protected override async Task WriteForeignFileAsync(IReplicaClient client, int level, string name)
    {
        using var http = new HttpClient();
        string objectName = ((GsReplicaClient)client).LevelPrefix(level) + name;
        using HttpResponseMessage response = await http.PostAsync(
            $"http://{gcs.Server.Host}/upload/storage/v1/b/{GcsEmulatorFixture.Bucket}/o?uploadType=media&name={Uri.EscapeDataString(objectName)}",
            new ByteArrayContent(Encoding.UTF8.GetBytes("not an ltx file")));
        response.EnsureSuccessStatusCode();
    }

    protected override string Location(IReplicaClient client, int level, Txid min, Txid max)
        => $"gs://{GcsEmulatorFixture.Bucket}/{((GsReplicaClient)client).LtxName(level, min, max)}";

    protected override bool ListingCarriesHeaderTimestamp => true;
}
