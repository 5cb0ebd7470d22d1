using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Litestream.Logging;
using Litestream.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Litestream.Lease;

/// <summary>
/// One replicator's single-writer lease on a replica (<c>&lt;replica path&gt;/lease.json</c>), taken and renewed with
/// the backend's compare-and-swap (<see cref="IReplicaClient.WriteLeaseAsync"/>). A lease is free when it was released
/// or expired, and expiry is judged on the backend's clock: the object's last write (by the backend) plus its TTL,
/// against the backend's time of the read, and never before the expiry its holder wrote. A lease whose times cannot
/// be trusted (expiry far in the future) frees once this process has watched it go unrenewed for its TTL. The holder
/// stops uploading (<see cref="EnsureHeld"/>) a margin before its lease could expire, counted on its monotonic clock
/// from the moment it sent the last renewal, so it is fenced before any waiter can take over.
/// </summary>
public sealed class ReplicaLease
{
    private readonly IReplicaClient _client;
    private readonly ILogger _logger;
    private readonly string _holder = Guid.NewGuid().ToString("N");
    private string? _etag;
    private long _validUntil; // Stopwatch timestamp after which uploads stop

    internal ReplicaLease(IReplicaClient client, LeaseOptions options, ILogger? logger)
    {
        _client = client;
        Options = options;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>The settings.</summary>
    public LeaseOptions Options { get; }

    /// <summary>Where the lease object is (for messages).</summary>
    public string Location => $"{_client.ToString()?.TrimEnd('/')}/{LeaseObject.Name}";

    /// <summary>This holder's generation (one more than the previous holder's); zero before the lease was taken.</summary>
    public long Generation { get; private set; }

    /// <summary>True while the lease is this process's and recently renewed enough to upload.</summary>
    public bool IsHeld => _etag is not null && Stopwatch.GetTimestamp() < Volatile.Read(ref _validUntil);

    /// <summary>Throws unless uploads may go on (the lease is held and was renewed in time).</summary>
    /// <exception cref="LeaseException">It is not held, or its renewals failed long enough that it might expire.</exception>
    public void EnsureHeld()
    {
        if (_etag is null)
        {
            throw new LeaseException($"lease {Location} is not held by this process; not uploading", "the lease is taken when replication starts");
        }
        if (Stopwatch.GetTimestamp() >= Volatile.Read(ref _validUntil))
        {
            throw new LeaseException($"lease {Location} could not be renewed in time; not uploading until it is", "check access to the replica; uploads resume when a renewal succeeds");
        }
    }

    /// <summary>
    /// Takes the lease, waiting up to <see cref="LeaseOptions.Wait"/> for its holder to release it or for it to expire.
    /// Does nothing when it is already held.
    /// </summary>
    /// <exception cref="LeaseException">Another holder has it (after the wait), the object is not a lease, or the backend cannot hold one.</exception>
    public async ValueTask AcquireAsync(CancellationToken cancellationToken)
    {
        if (_etag is not null)
        {
            return;
        }
        if (_client.LeaseUnsupportedReason is { } unsupported)
        {
            throw new LeaseException(unsupported, "set lease.enabled: false for this database, or replicate to a file, s3 or abs replica");
        }
        await _client.InitAsync(cancellationToken).ConfigureAwait(false);
        long started = Stopwatch.GetTimestamp();
        string? watched = null; // the version seen held, and since when (the fallback when its times cannot be trusted)
        long watchedSince = 0;
        bool waitLogged = false;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            LeaseObject? current;
            try
            {
                current = await _client.ReadLeaseAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException and not LeaseException && Stopwatch.GetElapsedTime(started) < Options.Wait)
            {
                // A storage error while there is time left to wait: look again (the wait bounds the retries).
                Log.Warning(_logger, Location, $"cannot read lease: {e.Message}; retrying");
                await Task.Delay(Poll, cancellationToken).ConfigureAwait(false);
                continue;
            }
            LeaseRecord? record = null;
            if (current is not null && !TryParse(current, out record))
            {
                // Read again before calling it foreign: a store whose overwrites are not atomic (s3rver) shows a write in progress.
                await Task.Delay(TimeSpan.FromMilliseconds(200), cancellationToken).ConfigureAwait(false);
                LeaseObject? again = await _client.ReadLeaseAsync(cancellationToken).ConfigureAwait(false);
                if (again is null || again.ETag != current.ETag || TryParse(again, out _))
                {
                    continue;
                }
                record = Parse(again);
            }
            if (current is not null && current.ETag != watched)
            {
                watched = current.ETag;
                watchedSince = Stopwatch.GetTimestamp();
            }
            if (current is null || record!.Released || IsExpired(record, current) || Stopwatch.GetElapsedTime(watchedSince) > Max(record.Ttl, Options.Ttl) + Options.Margin)
            {
                if (await TryTakeAsync(current, record, cancellationToken).ConfigureAwait(false))
                {
                    return;
                }
                continue; // someone else wrote it in between: look again
            }
            TimeSpan waited = Stopwatch.GetElapsedTime(started);
            if (waited >= Options.Wait)
            {
                throw Held(record, current, Options.Wait > TimeSpan.Zero ? $" (waited {GoDuration.Format(Options.Wait)})" : "");
            }
            if (!waitLogged)
            {
                Log.Info(_logger, Location, $"lease held by host {record.Host} pid {record.Pid} until {Until(record, current)}; waiting up to {GoDuration.Format(Options.Wait)}");
                waitLogged = true;
            }
            await Task.Delay(Min(Poll, Options.Wait - waited), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Renews the lease every <see cref="LeaseOptions.RenewInterval"/> until cancelled (a failed renewal is retried every
    /// second; uploads stop when the lease might expire, and resume when a renewal succeeds).
    /// </summary>
    /// <exception cref="LeaseException">Another holder took the lease over: this process must stop replicating.</exception>
    public Task RenewLoopAsync(CancellationToken cancellationToken) => RenewLoopAsync(Task.Delay, cancellationToken);

    /// <summary>As <see cref="RenewLoopAsync(CancellationToken)"/>, waiting between renewals with <paramref name="delay"/> (a store's scheduler).</summary>
    internal async Task RenewLoopAsync(Func<TimeSpan, CancellationToken, Task> delay, CancellationToken cancellationToken)
    {
        bool failing = false;
        while (true)
        {
            await delay(failing ? Min(TimeSpan.FromSeconds(1), Options.RenewInterval) : Options.RenewInterval, cancellationToken).ConfigureAwait(false);
            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            attempt.CancelAfter(Options.RenewInterval); // a renewal that hangs must not outlive the lease
            try
            {
                try
                {
                    await WriteAsync(_etag, Generation, released: false, attempt.Token).ConfigureAwait(false);
                }
                catch (LeaseConflictException)
                {
                    // An earlier renewal may have timed out here but landed there: the lease is still ours under the ETag
                    // it left. (A read that fails too is a failed renewal, tried again, not a takeover.)
                    LeaseObject? current = await _client.ReadLeaseAsync(attempt.Token).ConfigureAwait(false);
                    if (!IsOurs(current, Generation))
                    {
                        throw Lost(current);
                    }
                    // Renew again soon under that ETag; the upload deadline stays that of the last renewal seen to succeed.
                    _etag = current.ETag;
                    failing = true;
                    continue;
                }
                if (failing)
                {
                    Log.Info(_logger, Location, "lease renewed again; uploads resume");
                    failing = false;
                }
            }
            catch (Exception e) when (e is not LeaseException && !cancellationToken.IsCancellationRequested)
            {
                if (!failing)
                {
                    Log.Warning(_logger, Location, $"cannot renew lease: {e.Message}; uploads stop if it is not renewed in time");
                    failing = true;
                }
            }
        }
    }

    /// <summary>Marks the lease released (with compare-and-swap) so the next holder need not wait for expiry. Never throws.</summary>
    public async ValueTask ReleaseAsync(CancellationToken cancellationToken)
    {
        if (_etag is null)
        {
            return;
        }
        try
        {
            await WriteAsync(_etag, Generation, released: true, cancellationToken).ConfigureAwait(false);
            Log.Info(_logger, Location, $"lease released (generation {Generation})");
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            Log.Warning(_logger, Location, $"could not release lease: {e.Message}; it frees when it expires");
        }
        catch (OperationCanceledException)
        {
            Log.Warning(_logger, Location, "lease release interrupted; it frees when it expires");
        }
        finally
        {
            _etag = null;
        }
    }

    private async ValueTask<bool> TryTakeAsync(LeaseObject? current, LeaseRecord? record, CancellationToken cancellationToken)
    {
        long generation = (record?.Generation ?? 0) + 1;
        long sent = Stopwatch.GetTimestamp();
        try
        {
            await WriteAsync(current?.ETag, generation, released: false, cancellationToken, taking: true).ConfigureAwait(false);
        }
        catch (IOException e) when (!cancellationToken.IsCancellationRequested)
        {
            // Refused, or our own write landed and its answer was lost (a client that retries it then meets our object).
            LeaseObject? stored = await ReadAfterTakeFailedAsync(cancellationToken).ConfigureAwait(false);
            if (!IsOurs(stored, generation))
            {
                if (e is LeaseConflictException)
                {
                    return false;
                }
                throw;
            }
            _etag = stored.ETag;
            Volatile.Write(ref _validUntil, UploadDeadline(sent));
        }
        Generation = generation;
        string previous = record is null ? "" : record.Released ? $", released by host {record.Host} pid {record.Pid}" : $", expired from host {record.Host} pid {record.Pid}";
        Log.Info(_logger, Location, $"lease taken: generation {generation}, ttl {GoDuration.Format(Options.Ttl)}{previous}");
        return true;
    }

    /// <summary>One conditional write; on success the lease is valid for uploads until a margin before it could expire.</summary>
    private async ValueTask WriteAsync(string? ifMatch, long generation, bool released, CancellationToken cancellationToken, bool taking = false)
    {
        long sent = Stopwatch.GetTimestamp();
        DateTimeOffset now = DateTimeOffset.UtcNow;
        var record = new LeaseRecord(_holder, Environment.MachineName, Environment.ProcessId, generation, Options.Ttl, released ? now : now + Options.Ttl, released);
        string etag = await _client.WriteLeaseAsync(record.ToJson(), ifMatch, cancellationToken).ConfigureAwait(false);
        if (released)
        {
            return;
        }
        if (taking || _etag is not null)
        {
            _etag = etag;
            Volatile.Write(ref _validUntil, UploadDeadline(sent));
        }
    }

    /// <summary>When uploads stop for a lease whose last successful write was sent at <paramref name="sent"/>.</summary>
    private long UploadDeadline(long sent) => sent + (long)((Options.Ttl - Options.Margin).TotalSeconds * Stopwatch.Frequency);

    private static bool TryParse(LeaseObject current, [NotNullWhen(true)] out LeaseRecord? record)
        => (record = LeaseRecord.TryParse(current.Content.Span, out _)) is not null;

    private LeaseRecord Parse(LeaseObject current)
        => LeaseRecord.TryParse(current.Content.Span, out string error) ?? throw new LeaseException(
            $"lease {Location} is not a lease this program wrote ({error})",
            $"if no replicate writes to this replica, delete {LeaseObject.Name} there; otherwise stop the program that wrote it");

    /// <summary>Expired by the backend's clock: its time now is past the object's last write plus the TTL, and past the expiry the holder wrote.</summary>
    private static bool IsExpired(LeaseRecord record, LeaseObject current)
    {
        DateTimeOffset now = current.ServerNow ?? DateTimeOffset.UtcNow;
        return now >= current.LastModified + record.Ttl && now >= record.Expires;
    }

    private static string Until(LeaseRecord record, LeaseObject current)
    {
        DateTimeOffset until = record.Expires > current.LastModified + record.Ttl ? record.Expires : current.LastModified + record.Ttl;
        return until.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);
    }

    private LeaseException Held(LeaseRecord record, LeaseObject current, string waited)
        => new($"lease {Location} is held by host {record.Host} pid {record.Pid} until {Until(record, current)}{waited}",
            $"another replicate writes to this replica; stop it, or wait for it with -lease-wait (a holder that died frees the lease at {Until(record, current)})");

    /// <summary>True when <paramref name="stored"/> is this holder's own unreleased record of <paramref name="generation"/>.</summary>
    private bool IsOurs([NotNullWhen(true)] LeaseObject? stored, long generation)
        => stored is not null && TryParse(stored, out LeaseRecord? record)
            && record.Holder == _holder && record.Generation == generation && !record.Released;

    /// <summary>The lease as it is after a refused or failed take, or null when it cannot be read (then the take failed).</summary>
    private async ValueTask<LeaseObject?> ReadAfterTakeFailedAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await _client.ReadLeaseAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return null;
        }
    }

    private LeaseException Lost(LeaseObject? current)
    {
        _etag = null;
        string by = current is not null && LeaseRecord.TryParse(current.Content.Span, out _) is { } record
            ? $"host {record.Host} pid {record.Pid} (generation {record.Generation})"
            : "another holder";
        Log.Warning(_logger, Location, $"lease was taken over by {by}; stopped uploading");
        return new LeaseException($"lease {Location} was taken over by {by}; stopped uploading", "another replicate writes to this replica now; run one replicator per replica");
    }

    /// <summary>How often a waiter looks at the lease (one read each): a sixth of the TTL, within 250 ms…5 s.</summary>
    private TimeSpan Poll => Clamp(Options.Ttl / 6, TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(5));

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private static TimeSpan Clamp(TimeSpan value, TimeSpan min, TimeSpan max) => value < min ? min : value > max ? max : value;
}
