using Litestream.Storage;
using Litestream.Storage.Gs;
using Litestream.Tests.Fixtures;

namespace Litestream.Tests.Lease;

/// <summary>
/// The lease on GCS. firebase-tools' emulator ignores ifGenerationMatch, so the requests go through the fault proxy's
/// conditional-write layer (<see cref="FaultProxy.ConditionalWrites"/>), which checks generations as GCS does; every
/// request of a test uses the one proxy.
/// </summary>
[Collection("gcs")]
[Requires(Need.GcsEmulator)]
public sealed class GsReplicaLeaseTests(GcsEmulatorFixture gcs) : ReplicaLeaseTests, IAsyncLifetime
{
    private FaultProxy? _proxy;

    protected override IReplicaClient CreateClient(string path)
        => new GsReplicaClient(new GsReplicaSettings { Bucket = GcsEmulatorFixture.Bucket, Path = path }, Proxy.Endpoint, credentials: null);

    private FaultProxy Proxy => _proxy ??= new FaultProxy(gcs.Server.Port) { ConditionalWrites = true };

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_proxy is not null)
        {
            await _proxy.DisposeAsync();
        }
    }

    /// <summary>The layer is what makes the emulator safe here: alone it would let a second writer overwrite the lease.</summary>
    [RequiresFact]
    public async Task EmulatorAlone_IgnoresGenerations_ProxyRefusesThem()
    {
        string path = S3rverFixture.NewPath("lease-raw");
        await using GsReplicaClient direct = gcs.Client(path);
        string first = await direct.WriteLeaseAsync("{}"u8.ToArray(), null, default);
        await direct.WriteLeaseAsync("{}"u8.ToArray(), null, default); // the emulator: no 412

        await using IReplicaClient proxied = CreateClient(path);
        await Assert.ThrowsAsync<LeaseConflictException>(() => proxied.WriteLeaseAsync("{}"u8.ToArray(), null, default).AsTask());
        await Assert.ThrowsAsync<LeaseConflictException>(() => proxied.WriteLeaseAsync("{}"u8.ToArray(), first, default).AsTask());
        Assert.Equal(2, Proxy.PreconditionFailures);
    }
}
