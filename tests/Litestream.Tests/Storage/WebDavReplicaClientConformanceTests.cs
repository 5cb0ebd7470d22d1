using Litestream.Ltx;
using Litestream.Storage;
using Litestream.Storage.WebDav;
using Litestream.Tests.Fixtures;

namespace Litestream.Tests.Storage;

/// <summary>The replica client contract on the WebDAV backend; one class per server, since they differ.</summary>
public abstract class WebDavReplicaClientConformanceTests(WebDavFixture server) : ReplicaClientConformanceTests
{
    protected override IReplicaClient CreateClient() => server.Client("conformance");

    // The server is this machine: its files are plain files under the served directory.
    protected override Task WriteForeignFileAsync(IReplicaClient client, int level, string name)
    {
        string dir = Path.Combine(server.Server.DataDirectory, ((WebDavReplicaClient)client).LevelDirectory(level));
        Directory.CreateDirectory(dir);
        return File.WriteAllTextAsync(Path.Combine(dir, name), "not an ltx file");
    }

    protected override string Location(IReplicaClient client, int level, Txid min, Txid max)
        => ((WebDavReplicaClient)client).Location(((WebDavReplicaClient)client).LtxPath(level, min, max));

    // A listing carries the server's write time (getlastmodified); the header time needs metadata.
    protected override bool ListingCarriesHeaderTimestamp => false;

    // Both servers offer COPY (RFC 4918 §9.8).
    protected override bool CopiesInStorage => true;
}

/// <summary>Against rclone serve webdav.</summary>
[Collection("rclone-webdav")]
[Requires(Need.Rclone)]
public sealed class RcloneWebDavConformanceTests(RcloneWebDavFixture server) : WebDavReplicaClientConformanceTests(server);

/// <summary>Against nginx with dav-ext.</summary>
[Collection("nginx-dav")]
[Requires(Need.NginxDav)]
public sealed class NginxDavConformanceTests(NginxDavFixture server) : WebDavReplicaClientConformanceTests(server);
