namespace Litestream.Storage.WebDav;

public sealed partial record WebDavReplicaSettings
{
    /// <summary>
    /// Reads <c>webdav://[user[:password]@]host[:port]/path</c> (http) and <c>webdavs://…</c> (https) as upstream
    /// does: the server is <c>scheme://host[:port]</c>, the path is the replica's collection under its root.
    /// </summary>
    internal static ReplicaSettings ParseUrl(ReplicaUrlParts url)
    {
        if (url.Host.Length == 0)
        {
            throw url.Invalid($"host required ({url.Scheme}://[user[:password]@]host[:port]/path)");
        }
        string scheme = url.Scheme == "webdavs" ? "https" : "http";
        var options = new Dictionary<string, string>(StringComparer.Ordinal) { [Key.WebDavUrl] = $"{scheme}://{url.Host}" };
        if (!string.IsNullOrEmpty(url.User))
        {
            options[Key.WebDavUsername] = url.User;
        }
        if (!string.IsNullOrEmpty(url.Password))
        {
            options[Key.WebDavPassword] = url.Password;
        }
        return new ReplicaSettings { Path = url.Path.Trim('/'), Options = options };
    }
}
