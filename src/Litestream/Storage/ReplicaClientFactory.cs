using Litestream.Storage.File;
using Litestream.Storage.S3;

namespace Litestream.Storage;

/// <summary>Creates the replica client for a backend type; an unknown or unavailable type is a clear error.</summary>
public static class ReplicaClientFactory
{
    /// <summary>The backend types this build can create.</summary>
    public static IReadOnlyList<string> Names { get; } = ["file", "s3"];

    /// <summary>Creates a client, inferring the type from the URL when settings name none.</summary>
    public static IReplicaClient Create(ReplicaSettings settings)
    {
        if (settings.Type is null && settings.Url is not null)
        {
            settings = ReplicaUrl.Parse(settings.Url) with { Type = null } is var parsed
                ? MergeFromUrl(settings, parsed)
                : settings;
        }
        string type = settings.Type ?? "file";
        return type switch
        {
            "file" => FileReplicaClient.Create(settings),
            "s3" => S3ReplicaClient.Create(settings),
            _ => throw new NotSupportedException($"replica type \"{type}\" is not supported by this build (supported: {string.Join(", ", Names)})"),
        };
    }

    private static ReplicaSettings MergeFromUrl(ReplicaSettings settings, ReplicaSettings parsed)
        => parsed with
        {
            Type = ReplicaUrl.Parse(settings.Url!).Type,
            AccessKeyId = settings.AccessKeyId ?? parsed.AccessKeyId,
            SecretAccessKey = settings.SecretAccessKey ?? parsed.SecretAccessKey,
            Region = settings.Region ?? parsed.Region,
            Endpoint = settings.Endpoint ?? parsed.Endpoint,
        };
}
