using Litestream.Storage;
using Litestream.Storage.S3;
using Litestream.Tests.Fixtures;

namespace Litestream.Tests.Lease;

/// <summary>
/// The lease on S3. s3rver ignores If-None-Match/If-Match on PUT, so the requests go through the fault proxy's
/// conditional-write layer (<see cref="FaultProxy.ConditionalWrites"/>), which checks them as S3 does; every
/// request of a test uses the one proxy.
/// </summary>
[Collection("s3rver")]
[Requires(Need.S3rver)]
public sealed class S3ReplicaLeaseTests(S3rverFixture s3) : ReplicaLeaseTests, IAsyncLifetime
{
    private FaultProxy? _proxy;

    // The SDK's retries on: s3rver answers 500 now and then when a read meets an overwrite of the same object.
    protected override IReplicaClient CreateClient(string path)
        => new S3ReplicaClient(s3.Settings(path, Proxy.Endpoint));

    private FaultProxy Proxy => _proxy ??= new FaultProxy(s3.Server.Port) { ConditionalWrites = true };

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_proxy is not null)
        {
            await _proxy.DisposeAsync();
        }
    }

    /// <summary>The layer is what makes S3 safe here: s3rver alone would let a second writer overwrite the lease.</summary>
    [RequiresFact]
    public async Task S3rverAlone_IgnoresConditions_ProxyRefusesThem()
    {
        string path = S3rverFixture.NewPath("lease-raw");
        await using var direct = new S3ReplicaClient(s3.Settings(path) with { MaxRetries = 0 });
        await direct.WriteLeaseAsync("{}"u8.ToArray(), null, default);
        await direct.WriteLeaseAsync("{}"u8.ToArray(), null, default); // s3rver: no 412

        await using IReplicaClient proxied = CreateClient(path);
        await Assert.ThrowsAsync<LeaseConflictException>(() => proxied.WriteLeaseAsync("{}"u8.ToArray(), null, default).AsTask());
        Assert.Equal(1, Proxy.PreconditionFailures);
    }
}
