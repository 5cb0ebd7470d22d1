namespace Litestream.Testing;

/// <summary>
/// A WebDAV server the tests start on a free loopback port, serving <see cref="DataDirectory"/> at its root with
/// Basic login <see cref="User"/> / <see cref="Password"/>: <see cref="RcloneWebDav"/> or <see cref="NginxDav"/>
/// (they differ: status codes, what a PUT does in place, how MKCOL and MOVE answer).
/// </summary>
public abstract class WebDavServer : LocalServer
{
    /// <summary>The user every fixture server accepts.</summary>
    public const string User = "litestream";

    /// <summary>Its password (a test value, yet never printed by the client).</summary>
    public const string Password = "dav-pass-8c1f";

    /// <summary>Starts the server and waits until its port accepts connections.</summary>
    protected WebDavServer(string name, string program, Func<string, int, IEnumerable<string>> arguments)
        : base(name, program, arguments)
    {
    }

    /// <summary>The directory served at the root.</summary>
    public string DataDirectory => Path.Combine(Directory, "data");

    /// <summary>The server as webdav-url takes it.</summary>
    public string Url => $"http://127.0.0.1:{Port}";

    /// <summary>A replica URL for <paramref name="path"/> with the login in it.</summary>
    public string ReplicaUrl(string path) => $"webdav://{User}:{Password}@127.0.0.1:{Port}/{path}";
}
