namespace Litestream.Restore;

/// <summary>How much SQLite checking a restore does before the result is renamed into place.</summary>
public enum IntegrityCheck
{
    /// <summary>Only the LTX checksums.</summary>
    None,
    /// <summary><c>PRAGMA quick_check</c>.</summary>
    Quick,
    /// <summary><c>PRAGMA integrity_check</c>.</summary>
    Full,
}
