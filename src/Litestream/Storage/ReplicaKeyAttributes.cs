namespace Litestream.Storage;

/// <summary>
/// The litestream.yml key of a backend settings property, where the kebab-case of its name is not upstream's
/// spelling (<c>WebDavUrl</c> → <c>webdav-url</c>).
/// </summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
internal sealed class ReplicaKeyAttribute(string name) : Attribute
{
    /// <summary>The key as written in litestream.yml.</summary>
    public string Name { get; } = name;
}

/// <summary>A backend key whose value is a credential: never printed (ToString, logs, errors, redacted URLs).</summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
internal sealed class ReplicaSecretAttribute : Attribute
{
}

/// <summary>A <c>long?</c> backend key that takes go-humanize sizes ("64MiB", "10MB", "4096").</summary>
[AttributeUsage(AttributeTargets.Property, Inherited = false)]
internal sealed class ReplicaSizeAttribute : Attribute
{
}
