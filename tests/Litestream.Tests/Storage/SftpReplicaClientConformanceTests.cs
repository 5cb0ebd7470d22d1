using Litestream.Ltx;
using Litestream.Storage;
using Litestream.Storage.Sftp;
using Litestream.Tests.Fixtures;

namespace Litestream.Tests.Storage;

/// <summary>The replica client contract on the SFTP backend, against a local OpenSSH sshd (internal-sftp).</summary>
[Collection("sshd")]
[Requires(Need.Sshd)]
public sealed class SftpReplicaClientConformanceTests(SshdFixture sshd) : ReplicaClientConformanceTests
{
    protected override IReplicaClient CreateClient() => sshd.Client("conformance");

    // The server is this machine: its files are plain files under the sshd's data directory.
    protected override Task WriteForeignFileAsync(IReplicaClient client, int level, string name)
    {
        string dir = ((SftpReplicaClient)client).LevelDirectory(level);
        Directory.CreateDirectory(dir);
        return File.WriteAllTextAsync(Path.Combine(dir, name), "not an ltx file");
    }

    protected override string Location(IReplicaClient client, int level, Txid min, Txid max)
        => ((SftpReplicaClient)client).Location(((SftpReplicaClient)client).LtxPath(level, min, max));

    protected override bool ListingCarriesHeaderTimestamp => true;

    protected override TimeSpan ListingTimestampResolution => TimeSpan.FromSeconds(1);
}
