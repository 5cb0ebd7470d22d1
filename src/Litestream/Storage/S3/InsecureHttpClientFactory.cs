using Amazon.Runtime;

namespace Litestream.Storage.S3;

/// <summary>
/// HTTP clients that accept any TLS certificate, for <c>skip-verify</c> (self-signed test and on-premises
/// stores), as upstream's <c>InsecureSkipVerify</c> transport.
/// </summary>
internal sealed class InsecureHttpClientFactory : HttpClientFactory
{
    /// <inheritdoc />
    public override HttpClient CreateHttpClient(IClientConfig clientConfig)
    {
        var handler = new SocketsHttpHandler
        {
            SslOptions = { RemoteCertificateValidationCallback = static (_, _, _, _) => true },
        };
        return new HttpClient(handler);
    }
}
