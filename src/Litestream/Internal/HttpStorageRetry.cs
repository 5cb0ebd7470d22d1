using System.Net.Sockets;
using Litestream.Storage;

namespace Litestream.Internal;

/// <summary>
/// What the HttpClient-based backends (WebDAV, GCS) retry and how long they pause: one policy, so a failure is
/// treated the same whichever of them meets it.
/// </summary>
internal static class HttpStorageRetry
{
    /// <summary>The pause before retry <paramref name="attempt"/> (0-based): 200 ms doubling, at most 6.4 s.</summary>
    public static TimeSpan Backoff(int attempt) => TimeSpan.FromMilliseconds(200 * (1 << Math.Min(attempt, 5)));

    /// <summary>A failure of the network or the server (a stall included), not the caller's cancellation.</summary>
    public static bool IsTransportError(Exception e, CancellationToken cancellationToken)
        => e is HttpRequestException or StallException or IOException or SocketException
            || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested);

    /// <summary>A failure another attempt may not meet: a connection lost mid-request, not one that could not be made.</summary>
    public static bool IsTransient(Exception e)
        => e is HttpRequestException { HttpRequestError: not (HttpRequestError.NameResolutionError or HttpRequestError.ConnectionError or HttpRequestError.SecureConnectionError) }
            || (e is IOException && e is not ReplicaStorageException);
}
