using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using Amazon.Runtime;
using Amazon.Runtime.Internal;
using Amazon.S3;
using Amazon.S3.Model;

namespace Litestream.Storage.S3;

/// <summary>
/// Multi-object deletes with Content-MD5 instead of the SDK's flexible checksum: AWSSDK.S3 4.x sends
/// <c>x-amz-checksum-crc32</c> on DeleteObjects even with <c>RequestChecksumCalculation.WHEN_REQUIRED</c>, which
/// B2, older MinIO, OSS and other S3-compatible stores reject, while all of them (and S3) take Content-MD5, the
/// checksum upstream sends (<c>require-content-md5</c>, on by default). A pipeline handler just before signing
/// swaps the headers for the clients that asked for it (<see cref="Enable"/>).
/// </summary>
internal static class DeleteContentMd5
{
    private static readonly ConditionalWeakTable<IClientConfig, object> s_enabled = [];
    private static readonly Lazy<bool> s_registered = new(static () =>
    {
        RuntimePipelineCustomizerRegistry.Instance.Register(new Customizer());
        return true;
    });

    /// <summary>Makes the DeleteObjects requests of clients built on <paramref name="config"/> carry Content-MD5 and no flexible checksum.</summary>
    public static void Enable(AmazonS3Config config)
    {
        _ = s_registered.Value;
        s_enabled.AddOrUpdate(config, s_enabled);
    }

    private sealed class Customizer : IRuntimePipelineCustomizer
    {
        public string UniqueName => "Litestream.DeleteContentMd5";

        public void Customize(Type type, RuntimePipeline pipeline)
        {
            if (type == typeof(AmazonS3Client))
            {
                pipeline.AddHandlerBefore<Signer>(new Handler());
            }
        }
    }

    private sealed class Handler : PipelineHandler
    {
        public override void InvokeSync(IExecutionContext executionContext)
        {
            Apply(executionContext.RequestContext);
            base.InvokeSync(executionContext);
        }

        public override Task<T> InvokeAsync<T>(IExecutionContext executionContext)
        {
            Apply(executionContext.RequestContext);
            return base.InvokeAsync<T>(executionContext);
        }

        private static void Apply(IRequestContext context)
        {
            if (context.OriginalRequest is not DeleteObjectsRequest || !s_enabled.TryGetValue(context.ClientConfig, out _)
                || Body(context.Request) is not { } body)
            {
                return;
            }
            IDictionary<string, string> headers = context.Request.Headers;
            foreach (string name in headers.Keys.Where(static k => k.StartsWith("x-amz-checksum-", StringComparison.OrdinalIgnoreCase)
                || k.Equals("x-amz-sdk-checksum-algorithm", StringComparison.OrdinalIgnoreCase)).ToList())
            {
                headers.Remove(name);
            }
            headers["Content-MD5"] = Convert.ToBase64String(MD5.HashData(body));
        }

        /// <summary>The marshalled body: the content bytes, or a seekable content stream read and rewound.</summary>
        private static byte[]? Body(IRequest request)
        {
            if (request.Content is { } content)
            {
                return content;
            }
            if (request.ContentStream is not { CanSeek: true } stream)
            {
                return null;
            }
            long start = stream.Position;
            var copy = new MemoryStream();
            stream.CopyTo(copy);
            stream.Position = start;
            return copy.ToArray();
        }
    }
}
