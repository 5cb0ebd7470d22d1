namespace Litestream.Client;

/// <summary>
/// How far a database's replicas are behind it on the daemon (<see cref="LitestreamClient.LagAsync"/>): the newest
/// local TXID, the newest every replica holds, how many lie between, and for how long the replicas have been behind
/// (<see cref="TimeSpan.Zero"/> when caught up; null when no replica was reached yet).
/// </summary>
public sealed record ReplicationLag(string Path, ulong Txid, ulong ReplicatedTxid, ulong BehindTxids, TimeSpan? Lag);
