namespace Litestream.Storage.File;

/// <summary>
/// Settings of a file replica: only the directory (<see cref="ReplicaBackendSettings.Path"/>). URLs:
/// <c>file:///absolute/path</c> (a bare path is a file replica too, see <see cref="ReplicaUrl"/>).
/// </summary>
public sealed partial record FileReplicaSettings : ReplicaBackendSettings
{
    /// <summary>Reads <c>file:///absolute/path</c> (or <c>file://localhost/…</c>); any other host is an error.</summary>
    internal static ReplicaSettings ParseUrl(ReplicaUrlParts url)
    {
        if (url.Host.Length != 0 && url.Host != "localhost")
        {
            throw url.Invalid("host must be empty (file:///absolute/path)");
        }
        return new ReplicaSettings { Path = "/" + url.Path };
    }
}
