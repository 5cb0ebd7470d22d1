using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.ObjectStore;

namespace Litestream.Testing;

/// <summary>
/// A local <c>nats-server -js</c> (apt nats-server, .ci/install.sh) on a free loopback port with its JetStream
/// store in a temporary directory and one user, <see cref="User"/> with <see cref="Password"/>: a client without
/// them is refused. Object store buckets are made by the tests (litestream never creates one, as upstream).
/// Shared by Litestream.Tests and Litestream.Aot.Tests.
/// </summary>
public sealed class NatsServer : LocalServer
{
    /// <summary>The user every client logs in as.</summary>
    public const string User = "litestream";

    /// <summary>Starts nats-server with JetStream and waits until it accepts connections.</summary>
    public NatsServer()
        : base("nats", ProgramPath ?? "nats-server", static (dir, port) => ["-js", "-a", "127.0.0.1", "-p", $"{port}", "-sd", dir, "--user", User, "--pass", s_password])
    {
    }

    // Random per test process: no test can pass by knowing it, and a leaked one would stand out.
    private static readonly string s_password = "nats-pw-" + Guid.NewGuid().ToString("N");

    /// <summary>The nats-server binary, or null when it is not installed.</summary>
    public static string? ProgramPath { get; } = File.Exists("/usr/sbin/nats-server") ? "/usr/sbin/nats-server" : TestRepo.OnPath("nats-server");

    /// <summary>The password of <see cref="User"/>.</summary>
    public string Password => s_password;

    /// <summary>Host and port as a replica's host key takes them.</summary>
    public string HostPort => $"127.0.0.1:{Port}";

    /// <summary>The client URL with the user's credentials, for a connection the test itself makes.</summary>
    public string ClientUrl => $"nats://{User}:{s_password}@127.0.0.1:{Port}";

    /// <summary>Makes object store bucket <paramref name="bucket"/> (file storage), as an operator would with <c>nats object add</c>.</summary>
    public async Task CreateBucketAsync(string bucket)
    {
        await using var connection = new NatsConnection(NatsOpts.Default with { Url = ClientUrl });
        await new NatsObjContext(new NatsJSContext(connection)).CreateObjectStoreAsync(new NatsObjConfig(bucket) { Storage = NatsObjStorageType.File });
    }

    /// <summary>Runs <paramref name="use"/> on bucket <paramref name="bucket"/> through a connection of the test's own.</summary>
    public async Task WithBucketAsync(string bucket, Func<INatsObjStore, Task> use)
    {
        await using var connection = new NatsConnection(NatsOpts.Default with { Url = ClientUrl });
        await use(await new NatsObjContext(new NatsJSContext(connection)).GetObjectStoreAsync(bucket));
    }
}
