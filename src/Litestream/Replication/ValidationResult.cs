using Litestream.Ltx;

namespace Litestream.Replication;

/// <summary>The outcome of one validation of a replica against its database.</summary>
/// <param name="At">When it finished.</param>
/// <param name="Txid">The TXID compared (0 when the validation could not get that far).</param>
/// <param name="Ok">True when the replica restored, passed <c>integrity_check</c> and equals the database page for page.</param>
/// <param name="Error">Why not, when not.</param>
public sealed record ValidationResult(DateTimeOffset At, Txid Txid, bool Ok, string? Error);
