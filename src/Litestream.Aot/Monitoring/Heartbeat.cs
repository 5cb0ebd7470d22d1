using Litestream.Aot.Control;
using Microsoft.Extensions.Logging;

namespace Litestream.Aot.Monitoring;

/// <summary>
/// <c>heartbeat-url</c> (upstream <c>HeartbeatClient</c> and <c>Store.monitorHeartbeats</c>): every
/// <see cref="CheckInterval"/> a GET is sent to the URL, at most once per <c>heartbeat-interval</c>, and only while
/// every running database's replica took a successful upload pass within that interval. A dead-man's switch
/// (healthchecks.io, Cronitor…) then alerts when replication stops, and only then. The URL is logged by its host
/// alone: the path of such a URL is the secret that lets anyone ping it.
/// </summary>
internal sealed class Heartbeat(Uri url, TimeSpan interval, ReplicationDaemon daemon, ILogger logger)
{
    /// <summary>Upstream's default interval (5 min).</summary>
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromMinutes(5);

    /// <summary>The shortest interval upstream accepts (1 min).</summary>
    public static readonly TimeSpan MinInterval = TimeSpan.FromMinutes(1);

    /// <summary>How often the conditions are checked (upstream <c>DefaultHeartbeatCheckInterval</c>).</summary>
    public static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(15);

    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(30);

    /// <summary>Checks and pings until <paramref name="cancellationToken"/> is cancelled.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = s_timeout };
        using var timer = new PeriodicTimer(CheckInterval);
        DateTimeOffset? lastPing = null;
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                DateTimeOffset now = DateTimeOffset.UtcNow;
                if ((lastPing is { } last && now - last < interval) || !AllReplicatedSince(now - interval))
                {
                    continue;
                }
                // Recorded before the request, as upstream: a failing endpoint is not retried faster than the interval.
                lastPing = now;
                await PingAsync(http, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// Upstream's <c>allDatabasesHealthy</c>: at least one database runs, and every running one uploaded since
    /// <paramref name="since"/>. Skipped, as upstream skips closed databases: stopped ones and those whose file does
    /// not exist yet. A database that exists but cannot be opened or reconciled (its replica is unreachable) counts
    /// as failing: upstream opens a database without its replica, so there it would be open and not uploading.
    /// </summary>
    private bool AllReplicatedSince(DateTimeOffset since)
    {
        int running = 0;
        foreach ((_, bool isRunning, Replication.Replica? replica) in daemon.Databases())
        {
            if (!isRunning || replica is null || (!replica.Db.IsOpen && !File.Exists(replica.Db.Path)))
            {
                continue;
            }
            running++;
            if (replica.LastSyncAt is not { } at || at < since)
            {
                return false;
            }
        }
        return running > 0;
    }

    private async Task PingAsync(HttpClient http, CancellationToken cancellationToken)
    {
        string target = $"{url.Scheme}://{url.Authority}/…";
        try
        {
            using HttpResponseMessage response = await http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                Log(LogLevel.Error, $"heartbeat ping to {target} failed: unexpected status code: {(int)response.StatusCode}");
                return;
            }
            Log(LogLevel.Debug, $"heartbeat ping sent to {target}");
        }
        catch (Exception e) when (e is HttpRequestException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            Log(LogLevel.Error, $"heartbeat ping to {target} failed: {(e is OperationCanceledException ? $"no answer within {GoDuration.Format(s_timeout)}" : e.Message)}");
        }
    }

    private void Log(LogLevel level, string message) => logger.Log(level, default, message, null, static (s, _) => s);
}
