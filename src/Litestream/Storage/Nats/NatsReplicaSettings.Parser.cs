namespace Litestream.Storage.Nats;

public sealed partial record NatsReplicaSettings
{
    /// <summary>
    /// Reads <c>nats://[user[:password]@]host[:port]/bucket[/path]</c>: the first path segment is the object store
    /// bucket, the rest the prefix of the replica's objects. Upstream takes the whole path as the bucket, which
    /// NATS refuses when it holds a '/', so the two agree on every URL upstream can use.
    /// </summary>
    internal static ReplicaSettings ParseUrl(ReplicaUrlParts url)
    {
        string path = url.Path.Trim('/');
        int slash = path.IndexOf('/', StringComparison.Ordinal);
        string bucket = slash < 0 ? path : path[..slash];
        if (bucket.Length == 0)
        {
            throw url.Invalid("bucket required (nats://host[:port]/bucket/path)");
        }
        var options = new Dictionary<string, string>(StringComparer.Ordinal) { [Key.Bucket] = bucket };
        if (url.Host.Length > 0)
        {
            options[Key.Host] = url.Host;
        }
        if (!string.IsNullOrEmpty(url.User))
        {
            options[Key.Username] = url.User;
        }
        if (!string.IsNullOrEmpty(url.Password))
        {
            options[Key.Password] = url.Password;
        }
        return new ReplicaSettings { Path = slash < 0 ? "" : path[(slash + 1)..].Trim('/'), Options = options };
    }
}
