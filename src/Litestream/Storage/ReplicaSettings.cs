namespace Litestream.Storage;

/// <summary>
/// Everything needed to create a replica client, whatever its backend: the union of upstream's
/// per-replica keys (REPLICA-LAYOUT.md §9). Built from a YAML <c>replica:</c> section by the exe, from a
/// replica URL, or directly by an embedding app. Each backend reads only the members it understands.
/// </summary>
public sealed record ReplicaSettings
{
    /// <summary>Backend name ("file", "s3", "abs", "sftp", "webdav"); inferred from <see cref="Url"/> when null.</summary>
    public string? Type { get; init; }
    /// <summary>The replica URL as written by the user, if any (e.g. <c>s3://bucket/db?region=x</c>).</summary>
    public string? Url { get; init; }
    /// <summary>Path inside the backend (directory for file, key prefix for object stores).</summary>
    public string? Path { get; init; }

    // S3 and compatibles
    /// <summary>S3 bucket.</summary>
    public string? Bucket { get; init; }
    /// <summary>S3 region.</summary>
    public string? Region { get; init; }
    /// <summary>Custom S3 endpoint, e.g. <c>http://127.0.0.1:9000</c>.</summary>
    public string? Endpoint { get; init; }
    /// <summary>Path-style addressing; null = decide from the endpoint as upstream does.</summary>
    public bool? ForcePathStyle { get; init; }
    /// <summary>Skip TLS certificate verification.</summary>
    public bool SkipVerify { get; init; }
    /// <summary>Sign request payloads (false = UNSIGNED-PAYLOAD); null = backend default (true).</summary>
    public bool? SignPayload { get; init; }
    /// <summary>Send Content-MD5 on batch deletes; null = backend default (true).</summary>
    public bool? RequireContentMd5 { get; init; }
    /// <summary>S3 storage class for uploads.</summary>
    public string? StorageClass { get; init; }
    /// <summary>Multipart part size in bytes; 0 = default (5 MiB).</summary>
    public long PartSize { get; init; }
    /// <summary>Multipart upload concurrency; 0 = default (5).</summary>
    public int Concurrency { get; init; }
    /// <summary>Access key id (never logged).</summary>
    public string? AccessKeyId { get; init; }
    /// <summary>Secret access key (never logged).</summary>
    public string? SecretAccessKey { get; init; }
    /// <summary>SSE-C algorithm (AES256).</summary>
    public string? SseCustomerAlgorithm { get; init; }
    /// <summary>SSE-C key, base64 (never logged).</summary>
    public string? SseCustomerKey { get; init; }
    /// <summary>Path of a file holding the SSE-C key.</summary>
    public string? SseCustomerKeyPath { get; init; }
    /// <summary>SSE-KMS key id.</summary>
    public string? SseKmsKeyId { get; init; }

    // Azure Blob Storage
    /// <summary>Azure storage account name.</summary>
    public string? AccountName { get; init; }
    /// <summary>Azure storage account key (never logged).</summary>
    public string? AccountKey { get; init; }
    /// <summary>Azure SAS token (never logged).</summary>
    public string? SasToken { get; init; }

    // SFTP
    /// <summary>SFTP host[:port].</summary>
    public string? Host { get; init; }
    /// <summary>SFTP user.</summary>
    public string? User { get; init; }
    /// <summary>SFTP password (never logged).</summary>
    public string? Password { get; init; }
    /// <summary>SFTP private key path.</summary>
    public string? KeyPath { get; init; }
    /// <summary>Expected SFTP host key.</summary>
    public string? HostKey { get; init; }
    /// <summary>Allow concurrent SFTP writes.</summary>
    public bool? ConcurrentWrites { get; init; }

    // WebDAV
    /// <summary>WebDAV base URL.</summary>
    public string? WebDavUrl { get; init; }
    /// <summary>WebDAV user name.</summary>
    public string? WebDavUsername { get; init; }
    /// <summary>WebDAV password (never logged).</summary>
    public string? WebDavPassword { get; init; }

    /// <summary>
    /// Where the replica is, for logs and debugging; never a credential. Replaces the record's generated
    /// ToString, which would print every member including the secrets.
    /// </summary>
    public override string ToString()
    {
        var text = new System.Text.StringBuilder("ReplicaSettings { Type = ").Append(Type);
        Append(text, "Url", Url is null ? null : ReplicaUrl.Redact(Url));
        Append(text, "Path", Path);
        Append(text, "Bucket", Bucket);
        Append(text, "Region", Region);
        Append(text, "Endpoint", Endpoint);
        Append(text, "Host", Host);
        Append(text, "User", User);
        Append(text, "WebDavUrl", WebDavUrl);
        bool secrets = AccessKeyId is not null || SecretAccessKey is not null || SseCustomerKey is not null || AccountKey is not null
            || SasToken is not null || Password is not null || WebDavPassword is not null;
        return text.Append(secrets ? $", Credentials = {Redaction.Mask} }}" : " }").ToString();
    }

    private static void Append(System.Text.StringBuilder text, string name, string? value)
    {
        if (value is not null)
        {
            text.Append(", ").Append(name).Append(" = ").Append(value);
        }
    }
}
