using Litestream.Storage;

namespace Litestream.Aot.Config;

/// <summary>One replica section (or the top-level defaults): every per-replica key upstream v0.5 accepts.</summary>
[ConfigSection]
[ConfigNotSupported("age", Message = "age encryption is not currently supported")]
[ConfigNotSupported("jwt", "seed", "creds", "nkey", "username", "token", "tls", "root-cas", "client-cert", "client-key", "max-reconnects", "reconnect-wait", "timeout",
    Message = "not supported yet (nats replicas)")]
public sealed partial class ReplicaConfig
{
    /// <summary><c>url</c>.</summary>
    public string? Url { get; set; }
    /// <summary><c>type</c>.</summary>
    [ConfigOneOf("file", "s3", "abs", "sftp", "webdav", "gs", "nats", "oss", Error = "unknown replica type \"{0}\"")]
    public string? Type { get; set; }
    /// <summary><c>path</c>.</summary>
    public string? Path { get; set; }
    /// <summary><c>sync-interval</c>.</summary>
    public TimeSpan? SyncInterval { get; set; }
    /// <summary><c>max-sync-ltx-files</c>.</summary>
    public int? MaxSyncLtxFiles { get; set; }
    /// <summary><c>auto-recover</c>.</summary>
    public bool? AutoRecover { get; set; }
    /// <summary><c>validation-interval</c> (accepted; replicas are not validated in the background).</summary>
    public TimeSpan? ValidationInterval { get; set; }

    // The backend keys, as ReplicaSettings names them (its docs say what each one means).
    public string? Bucket { get; set; }
    public string? Region { get; set; }
    public string? Endpoint { get; set; }
    public bool? ForcePathStyle { get; set; }
    public bool? SkipVerify { get; set; }
    public bool? SignPayload { get; set; }
    public bool? RequireContentMd5 { get; set; }
    public string? StorageClass { get; set; }
    [ConfigSize]
    public long? PartSize { get; set; }
    public int? Concurrency { get; set; }
    public string? AccessKeyId { get; set; }
    public string? SecretAccessKey { get; set; }
    public string? SseCustomerAlgorithm { get; set; }
    public string? SseCustomerKey { get; set; }
    public string? SseCustomerKeyPath { get; set; }
    public string? SseKmsKeyId { get; set; }
    public string? AccountName { get; set; }
    public string? AccountKey { get; set; }
    public string? SasToken { get; set; }
    public string? Host { get; set; }
    public string? User { get; set; }
    public string? Password { get; set; }
    public string? KeyPath { get; set; }
    public string? HostKey { get; set; }
    public bool? ConcurrentWrites { get; set; }
    [ConfigKey("webdav-url")]
    public string? WebDavUrl { get; set; }
    [ConfigKey("webdav-username")]
    public string? WebDavUsername { get; set; }
    [ConfigKey("webdav-password")]
    public string? WebDavPassword { get; set; }

    /// <summary>
    /// The backend settings: the URL's parts, then the explicit keys, then the top-level defaults for
    /// anything still unset.
    /// </summary>
    public ReplicaSettings ToSettings(ReplicaConfig defaults)
    {
        string? url = Url ?? defaults.Url;
        ReplicaSettings s = url is not null ? ReplicaUrl.Parse(url) : new ReplicaSettings();
        return s with
        {
            Type = Type ?? s.Type ?? defaults.Type ?? "file",
            Path = Path ?? s.Path ?? defaults.Path,
            Bucket = Bucket ?? s.Bucket ?? defaults.Bucket,
            Region = Region ?? s.Region ?? defaults.Region,
            Endpoint = Endpoint ?? s.Endpoint ?? defaults.Endpoint,
            ForcePathStyle = ForcePathStyle ?? s.ForcePathStyle ?? defaults.ForcePathStyle,
            SkipVerify = SkipVerify == true || s.SkipVerify || defaults.SkipVerify == true,
            SignPayload = SignPayload ?? s.SignPayload ?? defaults.SignPayload,
            RequireContentMd5 = RequireContentMd5 ?? s.RequireContentMd5 ?? defaults.RequireContentMd5,
            StorageClass = StorageClass ?? s.StorageClass ?? defaults.StorageClass,
            PartSize = PartSize ?? (s.PartSize != 0 ? s.PartSize : defaults.PartSize ?? 0),
            Concurrency = Concurrency ?? (s.Concurrency != 0 ? s.Concurrency : defaults.Concurrency ?? 0),
            AccessKeyId = AccessKeyId ?? defaults.AccessKeyId,
            SecretAccessKey = SecretAccessKey ?? defaults.SecretAccessKey,
            SseCustomerAlgorithm = SseCustomerAlgorithm ?? defaults.SseCustomerAlgorithm,
            SseCustomerKey = SseCustomerKey ?? s.SseCustomerKey ?? defaults.SseCustomerKey,
            SseCustomerKeyPath = SseCustomerKeyPath ?? defaults.SseCustomerKeyPath,
            SseKmsKeyId = SseKmsKeyId ?? s.SseKmsKeyId ?? defaults.SseKmsKeyId,
            AccountName = AccountName ?? s.AccountName ?? defaults.AccountName,
            AccountKey = AccountKey ?? defaults.AccountKey,
            SasToken = SasToken ?? defaults.SasToken,
            Host = Host ?? s.Host ?? defaults.Host,
            User = User ?? s.User ?? defaults.User,
            Password = Password ?? s.Password ?? defaults.Password,
            KeyPath = KeyPath ?? defaults.KeyPath,
            HostKey = HostKey ?? defaults.HostKey,
            ConcurrentWrites = ConcurrentWrites ?? defaults.ConcurrentWrites,
            WebDavUrl = WebDavUrl ?? s.WebDavUrl ?? defaults.WebDavUrl,
            WebDavUsername = WebDavUsername ?? defaults.WebDavUsername,
            WebDavPassword = WebDavPassword ?? defaults.WebDavPassword,
        };
    }

    /// <summary>A replica's url must parse, and its scheme must agree with an explicit <c>type</c>.</summary>
    internal void CheckUrl(string path)
    {
        if (Url is null)
        {
            return;
        }
        string scheme;
        try
        {
            scheme = ReplicaUrl.Parse(Url).Type!;
        }
        catch (ArgumentException e)
        {
            throw new ConfigException(ConfigNode.Child(path, "url"), e.Message);
        }
        if (Type is not null && ReplicaUrl.IsUrl(Url) && scheme != Type)
        {
            throw new ConfigException(ConfigNode.Child(path, "type"), $"replica type \"{Type}\" does not match url scheme \"{scheme}\"");
        }
    }

    partial void OnBound(string path, ConfigContext context) => CheckUrl(path);
}
