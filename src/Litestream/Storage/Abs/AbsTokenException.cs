namespace Litestream.Storage.Abs;

/// <summary>
/// No token could be had for Blob Storage (<see cref="AbsTokenCredential"/>). Not an <see cref="IOException"/> on purpose:
/// a request's retry loop retries those, and a missing identity does not appear within a request's retries;
/// replication retries it with its own backoff.
/// </summary>
internal sealed class AbsTokenException(string message, string hint) : Exception(message)
{
    /// <summary>What to check, for the user (one line).</summary>
    public string Hint { get; } = hint;
}
