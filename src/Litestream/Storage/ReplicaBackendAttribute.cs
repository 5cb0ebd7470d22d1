namespace Litestream.Storage;

/// <summary>
/// Marks an <see cref="IReplicaClient"/> implementation as the backend for a config <c>type:</c> and URL
/// scheme. Litestream.Generators turns every marked class into a case of the generated
/// <c>ReplicaClientRegistry</c> switch, so no reflection or assembly scanning is needed.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
internal sealed class ReplicaBackendAttribute : Attribute
{
    /// <summary>Declares the backend name (also the URL scheme), e.g. "file" or "s3".</summary>
    public ReplicaBackendAttribute(string name) => Name = name;

    /// <summary>The backend name.</summary>
    public string Name { get; }
}
