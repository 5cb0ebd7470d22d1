namespace Litestream.Lease;

/// <summary>
/// The replica's lease is not this process's: another holder has it (or took it over), the lease object is not one
/// this program can read, or the backend cannot hold a lease. Replicating anyway would fork the replica's history,
/// so the database stops instead of retrying.
/// </summary>
public sealed class LeaseException : IOException
{
    /// <summary>Creates the exception with what the user can do about it.</summary>
    public LeaseException(string message, string hint, Exception? innerException = null)
        : base(message, innerException)
        => Hint = hint;

    /// <summary>What the user can do about it.</summary>
    public string Hint { get; }
}
