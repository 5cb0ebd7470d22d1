using Litestream.Storage.WebDav;

namespace Litestream.Tests.Fixtures;

/// <summary>One WebDAV server for every test of its collection, started by the first test that needs it.</summary>
public abstract class WebDavFixture(Func<WebDavServer> start) : IDisposable
{
    private readonly Lazy<WebDavServer> _server = new(start);

    public WebDavServer Server => _server.Value;

    /// <summary>Settings for a replica in its own collection at the server's root, with the fixture login.</summary>
    public WebDavReplicaSettings Settings(string name) => new()
    {
        WebDavUrl = Server.Url,
        WebDavUsername = WebDavServer.User,
        WebDavPassword = WebDavServer.Password,
        Path = S3rverFixture.NewPath(name),
    };

    public WebDavReplicaClient Client(string name) => new(Settings(name));

    public void Dispose()
    {
        if (_server.IsValueCreated)
        {
            _server.Value.Dispose();
        }
        GC.SuppressFinalize(this);
    }
}

/// <summary>rclone serve webdav for the "rclone-webdav" collection.</summary>
public sealed class RcloneWebDavFixture() : WebDavFixture(static () => new RcloneWebDav());

/// <summary>nginx dav + dav-ext for the "nginx-dav" collection.</summary>
public sealed class NginxDavFixture() : WebDavFixture(static () => new NginxDav());

[CollectionDefinition("rclone-webdav")]
public sealed class RcloneWebDavCollection : ICollectionFixture<RcloneWebDavFixture>;

[CollectionDefinition("nginx-dav")]
public sealed class NginxDavCollection : ICollectionFixture<NginxDavFixture>;
