using System.Globalization;
using System.Net;
using Litestream.Storage;

namespace Litestream.Internal;

/// <summary>
/// The HTTP stack and the one send loop of the HttpClient-based backends (WebDAV, GCS): a SocketsHttpHandler under
/// a <see cref="StallTimeoutHandler"/>, bounded by the storage timeouts (the environment's, or the defaults, with the
/// replica's own connect and request limits winning), no redirects followed, no decompression; and a loop that
/// sends a request, counts it in the replica metrics, and tries again as <see cref="HttpStorageRetry"/> and the
/// backend's status rule say.
/// </summary>
internal sealed class HttpStorageTransport
{
    private readonly string _type;

    /// <summary>Builds the stack; <paramref name="configure"/> adds what one backend needs (a login).</summary>
    /// <exception cref="ArgumentException">A LITESTREAM_STORAGE_*_TIMEOUT variable is not a positive Go duration.</exception>
    public HttpStorageTransport(string type, TimeSpan? connectTimeout, TimeSpan? requestTimeout, int maxRetries, int maxConnectionsPerServer,
        Action<SocketsHttpHandler>? configure = null)
    {
        _type = type;
        MaxRetries = maxRetries;
        StorageTimeouts timeouts = StorageTimeouts.FromEnvironment();
        Timeouts = timeouts with
        {
            Connect = connectTimeout ?? timeouts.Connect,
            Response = requestTimeout ?? timeouts.Response,
        };
        var sockets = new SocketsHttpHandler
        {
            ConnectTimeout = Timeouts.Connect,
            // A redirect of a MOVE, a PUT or an upload is no answer to trust.
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            MaxConnectionsPerServer = maxConnectionsPerServer,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
        };
        configure?.Invoke(sockets);
        Http = new HttpClient(new StallTimeoutHandler(sockets, Timeouts)) { Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>What <see cref="SendAsync"/> does with an answer, by its status.</summary>
    public enum StatusAction
    {
        /// <summary>Return it to the caller.</summary>
        Return,
        /// <summary>Drop it and ask again after the backoff pause.</summary>
        RetryAfterPause,
        /// <summary>Drop it and ask again at once (a refreshed token).</summary>
        RetryNow,
    }

    /// <summary>The client every request of the backend goes through.</summary>
    public HttpClient Http { get; }

    /// <summary>The limits in force.</summary>
    public StorageTimeouts Timeouts { get; }

    /// <summary>Retries after the first attempt.</summary>
    public int MaxRetries { get; }

    /// <summary>
    /// Sends one request (made anew for each attempt, <paramref name="authorize"/>d before each) and returns its
    /// response, whatever its status, unless <paramref name="onStatus"/> (status, attempt) asks for another attempt. A
    /// failure in transit is tried again up to <see cref="MaxRetries"/> times with a growing pause when
    /// <paramref name="retryTransport"/>; a refused connection, an unknown host or a stall is not (each would only add
    /// its wait again) and becomes <paramref name="failure"/>'s exception. Counted in the replica metrics as
    /// <paramref name="metric"/>: a 404 is an answer, not a failure.
    /// </summary>
    public async Task<HttpResponseMessage> SendAsync(string metric, Func<HttpRequestMessage> make, Func<Exception, Exception> failure,
        Func<int, int, StatusAction> onStatus, CancellationToken cancellationToken, bool retryTransport = true, long bytes = 0,
        Func<HttpRequestMessage, CancellationToken, ValueTask>? authorize = null)
    {
        for (int attempt = 0; ; attempt++)
        {
            var op = ReplicaOperation.Start(_type, metric);
            using HttpRequestMessage request = make();
            if (authorize is not null)
            {
                await authorize(request, cancellationToken).ConfigureAwait(false);
            }
            HttpResponseMessage response;
            try
            {
                response = await Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (HttpStorageRetry.IsTransportError(e, cancellationToken) && !op.Failed(e))
            {
                if (!retryTransport || attempt >= MaxRetries || !HttpStorageRetry.IsTransient(e))
                {
                    throw failure(e);
                }
                await Task.Delay(HttpStorageRetry.Backoff(attempt), cancellationToken).ConfigureAwait(false);
                continue;
            }
            int status = (int)response.StatusCode;
            StatusAction action = onStatus(status, attempt);
            if (action != StatusAction.Return)
            {
                op.Failed(new HttpRequestException(response.ReasonPhrase), status.ToString(CultureInfo.InvariantCulture));
                response.Dispose();
                if (action == StatusAction.RetryAfterPause)
                {
                    await Task.Delay(HttpStorageRetry.Backoff(attempt), cancellationToken).ConfigureAwait(false);
                }
                continue;
            }
            if (status < 400 || status == 404)
            {
                op.Succeeded(bytes);
            }
            else
            {
                op.Failed(new HttpRequestException(response.ReasonPhrase), status.ToString(CultureInfo.InvariantCulture));
            }
            return response;
        }
    }
}
