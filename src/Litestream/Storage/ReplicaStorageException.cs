namespace Litestream.Storage;

/// <summary>
/// A storage request failed in a way the user must fix (wrong credentials, a missing container, an unreachable
/// host): the message names the backend, the host and the object and holds no credential; <see cref="Hint"/>
/// says what to check.
/// </summary>
public sealed class ReplicaStorageException : IOException
{
    /// <summary>Creates the exception; <paramref name="innerException"/> only when its text holds no credential.</summary>
    public ReplicaStorageException(string message, string? hint, Exception? innerException = null)
        : base(message, innerException)
    {
        Hint = hint;
    }

    /// <summary>What to check, for the user (one line), or null.</summary>
    public string? Hint { get; }
}
