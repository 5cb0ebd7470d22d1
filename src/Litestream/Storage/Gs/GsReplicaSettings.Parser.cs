namespace Litestream.Storage.Gs;

public sealed partial record GsReplicaSettings
{
    /// <summary>Reads <c>gs://bucket/path</c> as upstream does: the host is the bucket, the path the object name prefix.</summary>
    internal static ReplicaSettings ParseUrl(ReplicaUrlParts url)
    {
        if (url.Host.Length == 0)
        {
            throw url.Invalid("bucket required (gs://bucket/path)");
        }
        var options = new Dictionary<string, string>(StringComparer.Ordinal) { [Key.Bucket] = url.Host };
        url.CopyQuery(options, Key.Endpoint, Key.Endpoint);
        return new ReplicaSettings { Path = url.Path.Trim('/'), Options = options };
    }
}
