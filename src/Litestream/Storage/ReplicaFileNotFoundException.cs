namespace Litestream.Storage;

/// <summary>Raised by a replica client when a requested LTX file does not exist in the replica.</summary>
public sealed class ReplicaFileNotFoundException : FileNotFoundException
{
    /// <summary>Creates the exception for a replica path or object key.</summary>
    public ReplicaFileNotFoundException(string path)
        : base($"replica file not found: {path}", path)
    {
    }

    /// <summary>Creates the exception for a replica path or object key, wrapping the storage error.</summary>
    public ReplicaFileNotFoundException(string path, Exception innerException)
        : base($"replica file not found: {path}", path, innerException)
    {
    }
}
