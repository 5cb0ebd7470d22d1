using System.Diagnostics;
using System.Text;
using Litestream.Lease;
using Litestream.Storage;
using Litestream.Storage.File;
using Litestream.Storage.Sftp;
using Litestream.Tests.Fixtures;
using Microsoft.Extensions.Logging.Abstractions;

namespace Litestream.Tests.Lease;

/// <summary>
/// The single-writer lease, the same contract on every backend that can hold one: take, refuse while held, wait for
/// expiry (never before it), release, takeover detection, and lease objects that are not what they should be.
/// Each backend derives a small class that says how to make an empty replica.
/// </summary>
public abstract class ReplicaLeaseTests
{
    /// <summary>Short enough for tests, long enough for a busy machine's renewals (every second).</summary>
    protected static readonly TimeSpan Ttl = TimeSpan.FromSeconds(3);

    /// <summary>An empty replica; every call in one test must reach the same replica path.</summary>
    protected abstract IReplicaClient CreateClient(string path);

    private readonly string _path = "lease-" + Guid.NewGuid().ToString("N")[..8];

    private IReplicaClient Client() => CreateClient(_path);

    private static ReplicaLease Lease(IReplicaClient client, TimeSpan wait = default, TimeSpan? ttl = null)
        => new(client, new LeaseOptions { Ttl = ttl ?? Ttl, Wait = wait }, NullLogger.Instance);

    [RequiresFact]
    public async Task Acquire_FreeReplica_TakesGenerationOne_AndWritesWhoHoldsIt()
    {
        await using IReplicaClient client = Client();
        ReplicaLease lease = Lease(client);
        await lease.AcquireAsync(default);

        Assert.True(lease.IsHeld);
        Assert.Equal(1, lease.Generation);
        LeaseObject stored = (await client.ReadLeaseAsync(default))!;
        string json = Encoding.UTF8.GetString(stored.Content.Span);
        Assert.Contains($"\"host\":\"{Environment.MachineName}\"", json, StringComparison.Ordinal);
        Assert.Contains($"\"pid\":{Environment.ProcessId}", json, StringComparison.Ordinal);
        Assert.Contains("\"generation\":1", json, StringComparison.Ordinal);
        Assert.Contains("\"ttl_ms\":3000", json, StringComparison.Ordinal);
        Assert.Contains("\"released\":false", json, StringComparison.Ordinal);
    }

    [RequiresFact]
    public async Task Acquire_HeldByAnother_FailsNamingHostPidAndExpiry()
    {
        await using IReplicaClient client = Client();
        await Lease(client).AcquireAsync(default);

        ReplicaLease second = Lease(client);
        LeaseException e = await Assert.ThrowsAsync<LeaseException>(() => second.AcquireAsync(default).AsTask());
        Assert.StartsWith($"lease {second.Location} is held by host {Environment.MachineName} pid {Environment.ProcessId} until 20", e.Message, StringComparison.Ordinal);
        Assert.Contains("-lease-wait", e.Hint, StringComparison.Ordinal);
        Assert.False(second.IsHeld);
        Assert.Throws<LeaseException>(second.EnsureHeld);
    }

    [RequiresFact]
    public async Task Acquire_WhileHolderRenews_WaitEndsInRefusal()
    {
        // A longer TTL than the other tests: renewals every 2 s, so a busy machine (s3rver answering a PUT in over a
        // second) does not make the holder miss its lease, which the waiter would then rightly take.
        TimeSpan ttl = Ttl * 2;
        await using IReplicaClient client = Client();
        ReplicaLease holder = Lease(client, ttl: ttl);
        await holder.AcquireAsync(default);
        using var stop = new CancellationTokenSource();
        Task renewing = holder.RenewLoopAsync(stop.Token);

        var clock = Stopwatch.StartNew();
        LeaseException e = await Assert.ThrowsAsync<LeaseException>(() => Lease(client, wait: ttl * 1.5, ttl: ttl).AcquireAsync(default).AsTask());
        Assert.Contains("(waited 9s)", e.Message, StringComparison.Ordinal);
        Assert.True(clock.Elapsed >= ttl * 1.5, $"gave up after {clock.Elapsed}");
        // Still the holder's: a renewal that a slow backend answered late may have paused uploads for a moment, so wait for one.
        await Wait.UntilAsync(() => holder.IsHeld || renewing.IsCompleted, "the holder's next renewal");
        Assert.False(renewing.IsCompleted, renewing.Exception?.InnerException?.Message);
        Assert.Equal(1, holder.Generation);

        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => renewing);
    }

    [RequiresFact]
    public async Task Acquire_HolderStoppedRenewing_WaiterTakesAfterExpiry_NeverBefore()
    {
        await using IReplicaClient client = Client();
        ReplicaLease holder = Lease(client);
        var sinceTaken = Stopwatch.StartNew(); // before the write: its expiry counts from when it was sent, not answered
        await holder.AcquireAsync(default);

        ReplicaLease waiter = Lease(client, wait: TimeSpan.FromSeconds(30));
        await waiter.AcquireAsync(default);

        Assert.True(sinceTaken.Elapsed >= Ttl, $"taken {sinceTaken.Elapsed} after the holder's last write, before its {Ttl} TTL");
        Assert.Equal(2, waiter.Generation);
        Assert.True(waiter.IsHeld);
    }

    [RequiresFact]
    public async Task Release_NextHolderTakesAtOnce_WithTheNextGeneration()
    {
        await using IReplicaClient client = Client();
        ReplicaLease first = Lease(client);
        await first.AcquireAsync(default);
        await first.ReleaseAsync(default);
        Assert.False(first.IsHeld);

        var clock = Stopwatch.StartNew();
        ReplicaLease second = Lease(client);
        await second.AcquireAsync(default);
        Assert.True(clock.Elapsed < Ttl, $"took {clock.Elapsed}");
        Assert.Equal(2, second.Generation);
    }

    [RequiresFact]
    public async Task Renew_AfterTakeover_ThrowsTakenOver_AndFences()
    {
        await using IReplicaClient client = Client();
        ReplicaLease old = Lease(client);
        await old.AcquireAsync(default);
        ReplicaLease successor = Lease(client, wait: TimeSpan.FromSeconds(30)); // the old holder was paused (GC, SIGSTOP): no renewals
        await successor.AcquireAsync(default);

        LeaseException e = await Assert.ThrowsAsync<LeaseException>(() => old.RenewLoopAsync(default));
        Assert.Equal($"lease {old.Location} was taken over by host {Environment.MachineName} pid {Environment.ProcessId} (generation 2); stopped uploading", e.Message);
        Assert.False(old.IsHeld);
        Assert.Throws<LeaseException>(old.EnsureHeld);
        Assert.Equal(2, successor.Generation); // (whether it is still fresh enough to upload depends on how busy the machine is)
    }

    [RequiresFact]
    public async Task Renew_WriteLandedButResponseLost_KeepsTheLease()
    {
        // A renewal that timed out here (a busy machine, a dropped connection) after the backend stored it leaves the
        // lease under an ETag this holder never saw: the next renewal's condition fails, yet the lease is still ours.
        await using var client = new LostResponseClient(Client(), loseWrite: 2); // write 1 takes, write 2 renews
        ReplicaLease lease = Lease(client);
        await lease.AcquireAsync(default);
        using var stop = new CancellationTokenSource();
        Task renewing = lease.RenewLoopAsync(stop.Token);

        await Wait.UntilAsync(() => client.Writes >= 4 || renewing.IsCompleted, "two renewals after the lost one");
        Assert.False(renewing.IsCompleted, renewing.Exception?.InnerException?.Message);
        Assert.True(lease.IsHeld);
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => renewing);
        await lease.ReleaseAsync(default);
        string json = Encoding.UTF8.GetString((await client.ReadLeaseAsync(default))!.Content.Span);
        Assert.Contains("\"generation\":1", json, StringComparison.Ordinal);
        Assert.Contains("\"released\":true", json, StringComparison.Ordinal);
    }

    [RequiresFact]
    public async Task Acquire_TakeLandedButAnswerLost_HoldsTheLease()
    {
        // A client that retries a take whose answer was lost meets its own object and reports a conflict (S3's 412).
        await using var client = new LostResponseClient(Client(), loseWrite: 1, asConflict: true);
        ReplicaLease lease = Lease(client);
        await lease.AcquireAsync(default);

        Assert.True(lease.IsHeld);
        Assert.Equal(1, lease.Generation);
        await lease.ReleaseAsync(default); // under the ETag read back, so the release's condition holds
        string json = Encoding.UTF8.GetString((await client.ReadLeaseAsync(default))!.Content.Span);
        Assert.Contains("\"released\":true", json, StringComparison.Ordinal);
    }

    [RequiresFact]
    public async Task EnsureHeld_StopsUploadsBeforeExpiry_WithoutRenewal()
    {
        await using IReplicaClient client = Client();
        ReplicaLease lease = Lease(client);
        var clock = Stopwatch.StartNew();
        await lease.AcquireAsync(default);
        lease.EnsureHeld();
        await Wait.UntilAsync(() => !lease.IsHeld, "the unrenewed lease to stop uploads");
        Assert.True(clock.Elapsed < Ttl, $"still uploading {clock.Elapsed} after taking a {Ttl} lease");
        Assert.Equal($"lease {lease.Location} could not be renewed in time; not uploading until it is", Assert.Throws<LeaseException>(lease.EnsureHeld).Message);
    }

    [RequiresFact]
    public async Task Acquire_ObjectNotJson_RefusesWithHint()
    {
        await using IReplicaClient client = Client();
        await client.WriteLeaseAsync("this is not json"u8.ToArray(), null, default);
        LeaseException e = await Assert.ThrowsAsync<LeaseException>(() => Lease(client, wait: TimeSpan.FromSeconds(1)).AcquireAsync(default).AsTask());
        Assert.StartsWith($"lease {Lease(client).Location} is not a lease this program wrote (not JSON: ", e.Message, StringComparison.Ordinal);
        Assert.StartsWith("if no replicate writes to this replica, delete lease.json there", e.Hint, StringComparison.Ordinal);
    }

    [RequiresFact]
    public async Task Acquire_ExpiryFromTheFuture_HeldUntilWatchedUnrenewedForItsTtl()
    {
        await using IReplicaClient client = Client();
        byte[] future = """{"holder":"x","host":"other-host","pid":4242,"generation":7,"ttl_ms":3000,"expires":"2099-01-01T00:00:00.000Z","released":false}"""u8.ToArray();
        await client.WriteLeaseAsync(future, null, default);

        LeaseException e = await Assert.ThrowsAsync<LeaseException>(() => Lease(client).AcquireAsync(default).AsTask());
        Assert.Equal($"lease {Lease(client).Location} is held by host other-host pid 4242 until 2099-01-01T00:00:00Z", e.Message);

        var clock = Stopwatch.StartNew();
        ReplicaLease waiter = Lease(client, wait: TimeSpan.FromSeconds(30));
        await waiter.AcquireAsync(default);
        Assert.True(clock.Elapsed >= Ttl, $"a lease nobody renewed was taken after {clock.Elapsed}, before its TTL");
        Assert.Equal(8, waiter.Generation);
    }

    [RequiresFact]
    public async Task WriteLease_ConditionsHold_AsCompareAndSwap()
    {
        await using IReplicaClient client = Client();
        string first = await client.WriteLeaseAsync("{\"a\":1}"u8.ToArray(), null, default);
        await Assert.ThrowsAsync<LeaseConflictException>(() => client.WriteLeaseAsync("{\"a\":2}"u8.ToArray(), null, default).AsTask());
        string second = await client.WriteLeaseAsync("{\"a\":3}"u8.ToArray(), first, default);
        await Assert.ThrowsAsync<LeaseConflictException>(() => client.WriteLeaseAsync("{\"a\":4}"u8.ToArray(), first, default).AsTask());
        Assert.NotEqual(first, second);
        LeaseObject stored = (await client.ReadLeaseAsync(default))!;
        Assert.Equal("{\"a\":3}", Encoding.UTF8.GetString(stored.Content.Span));
        Assert.Equal(second, stored.ETag);
    }

    [RequiresFact]
    public async Task Acquire_TwoAtOnce_ExactlyOneWins()
    {
        await using IReplicaClient client = Client();
        // A long TTL: the winner's lease must still be fresh when the test looks, however slow the four writes were.
        TimeSpan ttl = TimeSpan.FromSeconds(30);
        ReplicaLease[] contenders = [Lease(client, ttl: ttl), Lease(client, ttl: ttl), Lease(client, ttl: ttl), Lease(client, ttl: ttl)];
        Task[] attempts = [.. contenders.Select(l => l.AcquireAsync(default).AsTask())];
        await Task.WhenAll(attempts).ContinueWith(static _ => { }, TaskScheduler.Default);
        Assert.True(attempts.Count(a => a.IsCompletedSuccessfully) == 1, string.Join("\n", attempts.Select(a => a.Exception?.InnerException?.ToString() ?? "won")));
        Assert.All(attempts.Where(a => !a.IsCompletedSuccessfully), a => Assert.IsType<LeaseException>(a.Exception!.InnerException));
        Assert.Equal(1, contenders.Count(l => l.IsHeld));
    }
}

/// <summary>
/// A backend whose response to the <c>loseWrite</c>-th lease write is lost after the write was stored: a reset
/// connection, or (<c>asConflict</c>) the conflict a client's retry of the stored write then meets.
/// </summary>
internal sealed class LostResponseClient(IReplicaClient inner, int loseWrite, bool asConflict = false) : DelegatingReplicaClient(inner)
{
    private int _writes;

    public int Writes => Volatile.Read(ref _writes);

    public override async ValueTask<string> WriteLeaseAsync(ReadOnlyMemory<byte> content, string? ifMatch, CancellationToken cancellationToken)
    {
        string etag = await Inner.WriteLeaseAsync(content, ifMatch, cancellationToken);
        if (Interlocked.Increment(ref _writes) != loseWrite)
        {
            return etag;
        }
        throw asConflict ? new LeaseConflictException("the retried write") : new IOException("connection reset before the response");
    }
}

/// <summary>The lease on a file replica (flock around compare and rename).</summary>
public sealed class FileReplicaLeaseTests : ReplicaLeaseTests
{
    private readonly string _root = TestRepo.TempDir();

    protected override IReplicaClient CreateClient(string path) => new FileReplicaClient(Path.Combine(_root, path));
}

/// <summary>Backends without a compare-and-swap refuse the lease in one line instead of pretending.</summary>
public sealed class UnsupportedLeaseTests
{
    [Fact]
    public async Task Acquire_Sftp_RefusesWithHint()
    {
        await using var client = new SftpReplicaClient(new SftpReplicaSettings { Host = "127.0.0.1:9", User = "u", Password = "lease-sftp-pw", Path = "/replica" });
        var lease = new ReplicaLease(client, new LeaseOptions(), NullLogger.Instance);
        LeaseException e = await Assert.ThrowsAsync<LeaseException>(() => lease.AcquireAsync(default).AsTask());
        Assert.Equal("sftp replicas cannot hold a lease: the backend offers no atomic compare-and-swap write", e.Message);
        Assert.Equal("set lease.enabled: false for this database, or replicate to a file, s3 or abs replica", e.Hint);
    }
}
