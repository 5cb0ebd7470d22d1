namespace Litestream.Aot.Cli;

/// <summary>
/// What Litestream v0.3's commands and flags became in v0.5, so a command line written for v0.3 gets an answer naming
/// the replacement instead of "unknown command". Only names v0.5 dropped are here; the rest (restore, replicate,
/// databases, wal, -config, -o, -timestamp, …) still work.
/// </summary>
internal static class LegacyUsage
{
    /// <summary>The answer to a v0.3 command, or null when <paramref name="name"/> is none.</summary>
    public static UsageException? Command(string name) => name switch
    {
        "snapshots" => new("\"snapshots\" was removed in Litestream v0.5: snapshots are the LTX files at level 9 of a replica",
            "litestream ltx -level 9 DB_PATH|REPLICA_URL"),
        "generations" => new("\"generations\" was removed in Litestream v0.5: a replica holds one TXID sequence, not generations",
            "litestream ltx -level all DB_PATH|REPLICA_URL lists it (restore still reads the generations of a v0.3 replica)"),
        _ => null,
    };

    /// <summary>The answer to a v0.3 flag of <paramref name="command"/> (as typed: <c>-generation</c>, <c>--index=3</c>), or null.</summary>
    public static UsageException? Flag(string command, string flag) => (command, flag.TrimStart('-').Split('=')[0]) switch
    {
        ("restore", "generation") => new("-generation was removed in Litestream v0.5: a replica holds one TXID sequence, not generations",
            "pick a point in it with -txid or -timestamp; 'litestream ltx -level all DB_PATH' lists the TXIDs"),
        ("ltx" or "wal", "generation") => new("-generation was removed in Litestream v0.5: a replica holds one TXID sequence, not generations",
            "'litestream ltx -level all DB_PATH' lists every file of it"),
        ("ltx" or "wal", "replica") => new("-replica was removed from ltx and wal in Litestream v0.5 (restore has it again, for a replicas: list)",
            "to read another replica, give its URL instead of the database path"),
        ("restore", "index") => new("-index was removed in Litestream v0.5: WAL indexes became TXIDs",
            "use -txid TXID (16 hex digits) or -timestamp; 'litestream ltx -level all DB_PATH' lists the TXIDs"),
        ("restore", "v") => new("-v was removed in Litestream v0.5: restore always reports what it restored",
            "-dry-run prints the plan; -json prints the result as JSON"),
        _ => null,
    };
}
