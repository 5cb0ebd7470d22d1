using Litestream.Ltx;

namespace Litestream.Restore;

/// <summary>What to restore and how (upstream <c>RestoreOptions</c>).</summary>
public sealed record RestoreOptions
{
    /// <summary>
    /// The output database path. It must not exist (an empty file is tolerated) unless <see cref="Force"/>.
    /// Null restores to the replica's own database path (<see cref="Replication.Replica.RestoreAsync"/>).
    /// </summary>
    public string? OutputPath { get; init; }

    /// <summary>The absolute output path; throws when none was given.</summary>
    internal string FullOutputPath => Path.GetFullPath(OutputPath ?? throw new ArgumentException("restore output path required"));

    /// <summary>Restore up to this TXID; zero = latest.</summary>
    public Txid Txid { get; init; }

    /// <summary>Restore the state as of this time (files created strictly before it); null = latest.</summary>
    public DateTimeOffset? Timestamp { get; init; }

    /// <summary>How many downloads run at once (8): plan files fetched ahead, or the parts of a large file fetched and applied in parallel.</summary>
    public int Parallelism { get; init; } = 8;

    /// <summary>SQLite check before the rename (quick).</summary>
    public IntegrityCheck IntegrityCheck { get; init; } = IntegrityCheck.Quick;

    /// <summary>Replace an existing output database (and its -wal/-shm/-journal).</summary>
    public bool Force { get; init; }

    /// <summary>
    /// Age identities (<c>AGE-SECRET-KEY-1…</c>; each string may hold several lines, as an age identity file) that
    /// decrypt a Litestream v0.3 replica written with <c>age: recipients</c>. LTX files are never age-encrypted.
    /// </summary>
    public IReadOnlyList<string> AgeIdentities { get; init; } = [];

    /// <summary>Keys for an encrypted replica (docs/ENCRYPTION.md); an encrypted file without its key fails the restore.</summary>
    public LtxKeyRing? Encryption { get; init; }

    /// <summary>How long a download may send nothing before the restore fails (60 s; shorter in tests).</summary>
    internal TimeSpan StallTimeout { get; init; } = TimeSpan.FromSeconds(60);
}
