namespace Litestream.Storage;

/// <summary>
/// A conditional write of the lease object failed its precondition (HTTP 412; for file replicas the content changed):
/// someone else wrote the lease since it was read. The caller reads it again to see who.
/// </summary>
public sealed class LeaseConflictException : IOException
{
    /// <summary>Creates the exception for the lease object at <paramref name="location"/>.</summary>
    public LeaseConflictException(string location, Exception? innerException = null)
        : base($"lease {location} was changed by someone else", innerException)
    {
    }
}
