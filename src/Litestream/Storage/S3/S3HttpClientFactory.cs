using System.Net;
using Amazon.Runtime;
using Litestream.Internal;

namespace Litestream.Storage.S3;

/// <summary>
/// The HTTP clients the SDK sends through: sockets with the connect limit and, for <c>skip-verify</c>
/// (self-signed test and on-premises stores, upstream's <c>InsecureSkipVerify</c>), any TLS certificate
/// accepted, under a <see cref="StallTimeoutHandler"/> that bounds every silent phase of a request. The SDK's
/// own client has no limit on a stalled server at all (S3's request timeout is its maximum, and the rest of a
/// response body is never timed).
/// </summary>
internal sealed class S3HttpClientFactory(StorageTimeouts timeouts, bool skipVerify) : HttpClientFactory
{
    /// <inheritdoc />
    public override HttpClient CreateHttpClient(IClientConfig clientConfig)
    {
        var sockets = new SocketsHttpHandler
        {
            ConnectTimeout = timeouts.Connect,
            // As the SDK's own client: S3 redirects come back as responses, bodies are never decompressed.
            AllowAutoRedirect = clientConfig.AllowAutoRedirect,
            AutomaticDecompression = DecompressionMethods.None,
        };
        if (clientConfig.MaxConnectionsPerServer is int connections)
        {
            sockets.MaxConnectionsPerServer = connections;
        }
        if (skipVerify)
        {
            sockets.SslOptions.RemoteCertificateValidationCallback = static (_, _, _, _) => true;
        }
        return new HttpClient(new StallTimeoutHandler(sockets, timeouts))
        {
            Timeout = clientConfig.Timeout ?? Timeout.InfiniteTimeSpan,
        };
    }
}
