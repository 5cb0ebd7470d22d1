using System.Security.Cryptography;
using Litestream.Ltx;
using Litestream.Replication;
using Litestream.Restore;
using Litestream.Storage;

namespace Litestream.Aot;

/// <summary>
/// Turns engine exceptions into one-line messages and hints for the user, chosen by the exception's type (and an
/// error code), never by matching its message text.
/// </summary>
internal static class Errors
{
    public static string Describe(Exception e) => e switch
    {
        AggregateException { InnerExceptions.Count: 1 } a => Describe(a.InnerExceptions[0]),
        AggregateException a => string.Join("; ", a.InnerExceptions.Select(Describe)),
        CryptographicException crypto => RandomSource.Describe(crypto),
        LtxKeyMissingException missing => $"replica is {missing.Message}",
        _ => e.Message,
    };

    public static string? Hint(Exception e) => e switch
    {
        AggregateException { InnerExceptions.Count: > 0 } a => Hint(a.InnerExceptions[0]),
        LocalStateException local => local.Hint,
        DatabaseLockedException locked => locked.Hint,
        Lease.LeaseException lease => lease.Hint,
        ReplicaBehindException behind => behind.Hint,
        IOException { InnerException: LocalStateException local } => local.Hint,
        NoBackupException => "check the replica URL or path; 'litestream ltx -level all URL' lists what is there",
        TxNotAvailableException => "'litestream ltx -level all URL' lists the TXIDs the replica holds",
        NonContiguousReplicaException => "the replica is missing files; restore an earlier state with -txid or -timestamp",
        LtxKeyMissingException missing => missing.KeysConfigured
            ? "add the key with that id to the replica's encryption.previous-key-paths"
            : "set encryption.key-path in the replica's config section and restore by database path with -config",
        LtxChecksumMismatchException or LtxFormatException => "the replica file is damaged; restore an earlier state with -txid, or from another replica",
        ReplicaFileNotFoundException => "the replica changed during the restore; try again",
        ReplicaStorageException storage => storage.Hint,
        BackendNotInBuildException notInBuild => notInBuild.Hint,
        CryptographicException or IOException { InnerException: CryptographicException } => RandomSource.Hint,
        UnauthorizedAccessException => "check file permissions",
        OutputExistsException exists => exists.Hint,
        AgeDecryptionException age => age.Hint,
        IOException io when IsDiskFull(io) => "free disk space and try again",
        _ => null,
    };

    private const int Enospc = 28;

    /// <summary>
    /// ENOSPC, by type and code, never by message text: .NET's IOException carries the errno as its HResult, and an
    /// exception that wraps one (naming the file or the step) holds it as an inner exception.
    /// </summary>
    private static bool IsDiskFull(Exception? e) => e switch
    {
        null => false,
        IOException { HResult: Enospc } => true,
        _ => IsDiskFull(e.InnerException),
    };
}
