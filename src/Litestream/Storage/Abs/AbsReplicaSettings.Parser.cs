namespace Litestream.Storage.Abs;

public sealed partial record AbsReplicaSettings
{
    /// <summary>
    /// Reads <c>abs://[account@]container/path</c> as upstream does: the user is the account name, the host the
    /// container. <c>?endpoint=</c> names a non-Azure endpoint (Azurite, a sovereign cloud). A password in the
    /// URL is not a credential here and is ignored.
    /// </summary>
    internal static ReplicaSettings ParseUrl(ReplicaUrlParts url)
    {
        if (url.Host.Length == 0)
        {
            throw url.Invalid("container required (abs://[account@]container/path)");
        }
        var options = new Dictionary<string, string>(StringComparer.Ordinal) { [Key.Bucket] = url.Host };
        if (!string.IsNullOrEmpty(url.User))
        {
            options[Key.AccountName] = url.User;
        }
        url.CopyQuery(options, Key.Endpoint, Key.Endpoint);
        return new ReplicaSettings { Path = url.Path.Trim('/'), Options = options };
    }
}
