using Litestream.Ltx;

namespace Litestream.Replication;

/// <summary>One LTX file a re-encryption pass looked at: the key it was under (0: plain) and whether it was rewritten.</summary>
/// <param name="File">The file (its level and TXID range are unchanged by a rewrite).</param>
/// <param name="KeyId">The key id its header named before the pass; 0 for a plain file.</param>
/// <param name="Rewritten">True when the file was rewritten under the current key (false: already under it, or a dry run).</param>
public sealed record ReencryptedFile(LtxFileInfo File, uint KeyId, bool Rewritten);
