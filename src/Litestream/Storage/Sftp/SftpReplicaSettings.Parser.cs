namespace Litestream.Storage.Sftp;

public sealed partial record SftpReplicaSettings
{
    /// <summary>
    /// Reads <c>sftp://user[:password]@host[:port]/path</c> as upstream does: the path is absolute on the server
    /// (<c>sftp://u@h/backups/db</c> is <c>/backups/db</c>); without one the files go under the user's home.
    /// </summary>
    internal static ReplicaSettings ParseUrl(ReplicaUrlParts url)
    {
        if (url.Host.Length == 0)
        {
            throw url.Invalid("host required (sftp://user@host[:port]/path)");
        }
        // A URL without a user is fine when litestream.yml names it (user: …); the client requires one.
        var options = new Dictionary<string, string>(StringComparer.Ordinal) { [Key.Host] = url.Host };
        if (!string.IsNullOrEmpty(url.User))
        {
            options[Key.User] = url.User;
        }
        if (!string.IsNullOrEmpty(url.Password))
        {
            options[Key.Password] = url.Password;
        }
        string path = url.Path.TrimEnd('/');
        return new ReplicaSettings { Path = path.Length == 0 ? "" : "/" + path, Options = options };
    }
}
