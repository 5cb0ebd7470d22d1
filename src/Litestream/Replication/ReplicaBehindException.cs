using Litestream.Ltx;

namespace Litestream.Replication;

/// <summary>
/// A sync that had to bring the replica up to the database's TXID did not (the final sync on shutdown, a
/// <see cref="Store.SyncAsync"/>, a <see cref="Replica.SyncAsync"/>): the message names the database, the replica,
/// both TXIDs and why. The transactions the replica lacks stay in the local meta directory and are sent by the
/// next replicator that runs on the database.
/// </summary>
public sealed class ReplicaBehindException : IOException
{
    /// <summary>Creates the exception; <paramref name="reason"/> says why the sync stopped (the last error, a timeout).</summary>
    public ReplicaBehindException(string path, string replica, Txid localTxid, Txid? replicaTxid, string reason, Exception? innerException = null)
        : base(Describe(path, replica, localTxid, replicaTxid) + ": " + reason, innerException)
    {
        Path = path;
        LocalTxid = localTxid;
        ReplicaTxid = replicaTxid;
    }

    /// <summary>The database.</summary>
    public string Path { get; }

    /// <summary>The newest TXID captured locally, which the replica was to receive.</summary>
    public Txid LocalTxid { get; }

    /// <summary>The newest TXID the replica is known to hold; null when it could not be reached at all.</summary>
    public Txid? ReplicaTxid { get; }

    /// <summary>What the user can do about it.</summary>
    public string Hint => "the missing transactions are kept in the database's -litestream meta directory; fix the replica and run 'litestream replicate' (or 'replicate -once') to send them";

    private static string Describe(string path, string replica, Txid localTxid, Txid? replicaTxid)
        => replicaTxid is { } remote
            ? $"{path}: transactions {new Txid(remote.Value + 1)}..{localTxid} did not reach replica {replica} (it holds txid {remote}, the database is at {localTxid})"
            : $"{path}: transactions up to {localTxid} did not reach replica {replica} (it could not be reached)";
}
