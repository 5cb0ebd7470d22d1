using Litestream.Storage;
using Litestream.Storage.Nats;
using NATS.NKeys;

namespace Litestream.Tests.Storage;

/// <summary>
/// nkey login against a real nats-server whose only user is an nkey: the server checks our signature of its nonce.
/// The bucket does not exist, so a login that succeeds ends at "bucket not found"; one that fails, at "authorization refused".
/// </summary>
public sealed class NatsNkeyLoginTests
{
    [RequiresFact(Need.NatsServer)]
    public async Task NkeySeed_ServerAcceptsTheSignature_WrongSeedRefused()
    {
        using KeyPair user = KeyPair.CreatePair(PrefixByte.User);
        using KeyPair stranger = KeyPair.CreatePair(PrefixByte.User);
        using var server = new NkeyNatsServer(user.GetPublicKey());
        var settings = new NatsReplicaSettings { Host = $"127.0.0.1:{server.Port}", Bucket = "nobucket", Timeout = TimeSpan.FromSeconds(10) };

        await using (var client = new NatsReplicaClient(settings with { Nkey = user.GetSeed() }))
        {
            ReplicaStorageException e = await Assert.ThrowsAsync<ReplicaStorageException>(async () => await client.InitAsync(default));
            Assert.EndsWith(": bucket \"nobucket\" not found", e.Message);
            Assert.DoesNotContain(user.GetSeed(), e.ToString());
        }
        string seedFile = Path.Combine(server.Directory, "user.nk");
        await File.WriteAllTextAsync(seedFile, user.GetSeed() + "\n");
        await using (var client = new NatsReplicaClient(settings with { Nkey = seedFile }))
        {
            ReplicaStorageException e = await Assert.ThrowsAsync<ReplicaStorageException>(async () => await client.InitAsync(default));
            Assert.EndsWith(": bucket \"nobucket\" not found", e.Message);
        }
        await using (var client = new NatsReplicaClient(settings with { Nkey = stranger.GetSeed() }))
        {
            ReplicaStorageException e = await Assert.ThrowsAsync<ReplicaStorageException>(async () => await client.InitAsync(default));
            Assert.EndsWith(": authorization refused by the server", e.Message);
            Assert.DoesNotContain(stranger.GetSeed(), e.ToString());
        }
    }

    /// <summary>nats-server -js whose one user logs in with the nkey <c>publicKey</c>.</summary>
    private sealed class NkeyNatsServer(string publicKey) : LocalServer("nats-nkey", NatsServer.ProgramPath ?? "nats-server", (dir, port) =>
    {
        string config = Path.Combine(dir, "nats.conf");
        File.WriteAllText(config, $"listen: \"127.0.0.1:{port}\"\njetstream {{ store_dir: \"{dir}/js\" }}\nauthorization {{ users = [ {{ nkey: \"{publicKey}\" }} ] }}\n");
        return ["-c", config];
    });
}
