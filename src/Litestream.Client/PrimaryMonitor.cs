namespace Litestream.Client;

/// <summary>Who replicates a database: whether the daemon watched is its primary, and the lease holder when it has a lease.</summary>
public sealed record PrimaryState(bool IsPrimary, string? Hostname, int? Pid, long? Generation);

/// <summary>
/// The current primary of one database (litefs-go's <c>PrimaryMonitor</c>), kept from the daemon's <c>init</c> and
/// <c>primaryChange</c> events in the background. <see cref="Current"/> is what it knows now; <see cref="Changed"/>
/// is raised (on the reading task) for every change; <see cref="WaitAsync"/> waits for a state. Dispose to stop.
/// </summary>
public sealed class PrimaryMonitor : IAsyncDisposable
{
    private readonly EventSubscription _subscription;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _lock = new();
    private Task _reading = Task.CompletedTask;
    private PrimaryState _current;
    private TaskCompletionSource _change = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private PrimaryMonitor(EventSubscription subscription, PrimaryState initial)
    {
        _subscription = subscription;
        _current = initial;
    }

    /// <summary>The primary as the last event said.</summary>
    public PrimaryState Current
    {
        get
        {
            lock (_lock)
            {
                return _current;
            }
        }
    }

    /// <summary>Why the monitor stopped following the daemon (its stream ended); null while it follows.</summary>
    public Exception? Failure { get; private set; }

    /// <summary>Raised with the new state for every <c>primaryChange</c>.</summary>
    public event EventHandler<PrimaryState>? Changed;

    /// <summary>Waits until <paramref name="condition"/> holds for <see cref="Current"/>.</summary>
    /// <exception cref="LitestreamClientException">The stream ended first.</exception>
    public async Task<PrimaryState> WaitAsync(Func<PrimaryState, bool> condition, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(condition);
        while (true)
        {
            Task change;
            PrimaryState state;
            lock (_lock)
            {
                state = _current;
                change = _change.Task;
            }
            if (condition(state))
            {
                return state;
            }
            await change.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _subscription.Dispose();
        try
        {
            await _reading.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        _stop.Dispose();
    }

    internal static async Task<PrimaryMonitor> StartAsync(EventSubscription subscription, CancellationToken cancellationToken)
    {
        try
        {
            LitestreamEvent init;
            do
            {
                init = await subscription.NextAsync(cancellationToken).ConfigureAwait(false);
            }
            while (init.Type != "init");
            var monitor = new PrimaryMonitor(subscription, StateOf(init));
            monitor._reading = Task.Run(monitor.ReadAsync, CancellationToken.None);
            return monitor;
        }
        catch
        {
            subscription.Dispose();
            throw;
        }
    }

    private static PrimaryState StateOf(LitestreamEvent e) => new(e.Data.IsPrimary ?? false, e.Data.Hostname, e.Data.Pid, e.Data.Generation);

    private async Task ReadAsync()
    {
        try
        {
            while (true)
            {
                LitestreamEvent e = await _subscription.NextAsync(_stop.Token).ConfigureAwait(false);
                if (e.Type != "primaryChange")
                {
                    continue;
                }
                PrimaryState state = StateOf(e);
                TaskCompletionSource changed;
                lock (_lock)
                {
                    _current = state;
                    changed = _change;
                    _change = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                }
                changed.TrySetResult();
                Changed?.Invoke(this, state);
            }
        }
        catch (Exception e) when (!_stop.IsCancellationRequested)
        {
            Failure = e;
            lock (_lock)
            {
                _change.TrySetException(e);
            }
        }
    }
}
