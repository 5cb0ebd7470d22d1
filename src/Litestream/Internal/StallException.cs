namespace Litestream.Internal;

/// <summary>
/// A request to storage made no progress for its limit (<see cref="Storage.StorageTimeouts"/>). Deliberately not
/// an <see cref="IOException"/>, <see cref="TimeoutException"/> or cancellation: the AWS SDK retries those,
/// and each retry of a stalled server would add another full timeout of silence before anyone hears of it.
/// The replicator retries on its own, after logging; a restore fails. Backends turn it into an
/// <see cref="IOException"/> naming the object.
/// </summary>
internal sealed class StallException(string message) : Exception(message);
