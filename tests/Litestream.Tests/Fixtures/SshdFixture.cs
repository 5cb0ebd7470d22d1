using Litestream.Storage.Sftp;

namespace Litestream.Tests.Fixtures;

/// <summary>One sshd for every test of the "sshd" collection, started by the first test that needs it.</summary>
public sealed class SshdFixture : IDisposable
{
    private readonly Lazy<Sshd> _server = new(() => new Sshd());

    public Sshd Server => _server.Value;

    /// <summary>Settings for a replica in its own directory under the server's data directory, logging in with the client key and checking the host key.</summary>
    public SftpReplicaSettings Settings(string name) => new()
    {
        Host = Server.HostPort,
        User = Sshd.User,
        KeyPath = Server.ClientKeyPath,
        HostKey = Server.HostKey,
        Path = Path.Combine(Server.DataDirectory, S3rverFixture.NewPath(name)),
    };

    public SftpReplicaClient Client(string name) => new(Settings(name));

    public void Dispose()
    {
        if (_server.IsValueCreated)
        {
            _server.Value.Dispose();
        }
    }
}

[CollectionDefinition("sshd")]
public sealed class SshdCollection : ICollectionFixture<SshdFixture>;
