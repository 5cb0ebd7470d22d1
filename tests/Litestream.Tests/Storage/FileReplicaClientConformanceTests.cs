using Litestream.Ltx;
using Litestream.Storage;
using Litestream.Storage.File;

namespace Litestream.Tests.Storage;

/// <summary>The replica client contract on the file backend.</summary>
public sealed class FileReplicaClientConformanceTests : ReplicaClientConformanceTests
{
    protected override IReplicaClient CreateClient() => new FileReplicaClient(TestRepo.TempDir());

    protected override Task WriteForeignFileAsync(IReplicaClient client, int level, string name)
    {
        string dir = ((FileReplicaClient)client).LevelDirectory(level);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, name), "not an ltx file");
        return Task.CompletedTask;
    }

    protected override string Location(IReplicaClient client, int level, Txid min, Txid max)
        => ((FileReplicaClient)client).LtxFilePath(level, min, max);

    protected override bool ListingCarriesHeaderTimestamp => true;

    protected override bool CopiesInStorage => true;
}
