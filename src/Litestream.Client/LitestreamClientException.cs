namespace Litestream.Client;

/// <summary>The daemon refused a request (<see cref="Status"/> is its HTTP status), could not be reached (0), or ended a stream.</summary>
public sealed class LitestreamClientException : Exception
{
    /// <summary>An error with the daemon's status and message.</summary>
    public LitestreamClientException(int status, string message, Exception? innerException = null)
        : base(message, innerException) => Status = status;

    /// <summary>The HTTP status the daemon answered with; 0 when it gave no answer.</summary>
    public int Status { get; }
}
