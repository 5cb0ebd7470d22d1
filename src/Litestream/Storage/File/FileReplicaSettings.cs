namespace Litestream.Storage.File;

/// <summary>
/// Settings of a file replica: only the directory (<see cref="ReplicaBackendSettings.Path"/>). URLs:
/// <c>file:///absolute/path</c>, or <c>file://./relative</c> and <c>file://../relative</c> (a bare path is a file
/// replica too, see <see cref="ReplicaUrl"/>).
/// </summary>
public sealed partial record FileReplicaSettings : ReplicaBackendSettings
{
    /// <summary>
    /// Reads <c>file:///absolute/path</c> (or <c>file://localhost/…</c>), and <c>file://./path</c> or <c>file://../path</c>
    /// as a relative path (no host is named "." or "..": upstream would silently read <c>file://../x</c> as <c>/x</c>).
    /// Whoever uses the relative path decides what it is relative to: the working directory for a URL on the command
    /// line, the config file's directory for one in a config. Any other host is an error.
    /// </summary>
    internal static ReplicaSettings ParseUrl(ReplicaUrlParts url)
    {
        if (url.Host is "." or "..")
        {
            return new ReplicaSettings { Path = url.Path.Length == 0 ? url.Host : url.Host + "/" + url.Path };
        }
        if (url.Host.Length != 0 && url.Host != "localhost")
        {
            throw url.Invalid("host must be empty (file:///absolute/path), or . or .. for a relative path (file://./path)");
        }
        return new ReplicaSettings { Path = "/" + url.Path };
    }
}
