namespace Litestream.Storage.S3;

public sealed partial record S3ReplicaSettings
{
    /// <summary>
    /// Reads <c>s3://bucket/path?endpoint=…&amp;region=…</c> as upstream does: provider host names imply the region
    /// and endpoint (<see cref="S3Host"/>), query parameters in camelCase or kebab-case set the other keys. Like
    /// upstream (its s3 client ignores Go's URL user info), credentials in the URL are not used.
    /// </summary>
    internal static ReplicaSettings ParseUrl(ReplicaUrlParts url)
    {
        if (url.Host.Length == 0)
        {
            throw url.Invalid("bucket required");
        }
        S3Host.Parsed host = S3Host.Parse(url.Host, url.Path);
        var options = new Dictionary<string, string>(StringComparer.Ordinal) { [Key.Bucket] = host.Bucket };
        if ((url.Get("endpoint") ?? host.Endpoint) is { } endpoint)
        {
            options[Key.Endpoint] = endpoint;
        }
        if ((url.Get("region") ?? host.Region) is { } region)
        {
            options[Key.Region] = region;
        }
        url.CopyQuery(options, Key.ForcePathStyle, "forcePathStyle", Key.ForcePathStyle);
        url.CopyQuery(options, Key.SkipVerify, "skipVerify", Key.SkipVerify);
        url.CopyQuery(options, Key.SignPayload, "signPayload", Key.SignPayload);
        url.CopyQuery(options, Key.RequireContentMd5, "requireContentMD5", Key.RequireContentMd5);
        url.CopyQuery(options, Key.Concurrency, Key.Concurrency);
        url.CopyQuery(options, Key.PartSize, "partSize", Key.PartSize);
        url.CopyQuery(options, Key.StorageClass, "storageClass", Key.StorageClass);
        url.CopyQuery(options, Key.SseCustomerKey, "sseCustomerKey", Key.SseCustomerKey);
        url.CopyQuery(options, Key.SseKmsKeyId, "sseKmsKeyId", Key.SseKmsKeyId);
        // Upstream joins the path and the level directory with no normalisation; a URL without a path becomes
        // "." there (Go path.Clean("")), so an existing replica made from s3://bucket is found again.
        string path = host.Path.Trim('/');
        return new ReplicaSettings { Path = path.Length == 0 ? "." : path, Options = options };
    }
}
