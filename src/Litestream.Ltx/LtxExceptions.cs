namespace Litestream.Ltx;

/// <summary>An LTX file is malformed: bad header, out-of-order pages, truncated data, bad index.</summary>
/// <remarks>
/// Derives from <see cref="IOException"/> because the BCL's <see cref="InvalidDataException"/> is sealed;
/// callers that catch I/O failures of a replica stream see format errors too.
/// </remarks>
public class LtxFormatException : IOException
{
    /// <summary>Creates the exception with a specific, lower-case message.</summary>
    public LtxFormatException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception wrapping a lower-level failure.</summary>
    public LtxFormatException(string message, Exception innerException) : base(message, innerException)
    {
    }
}

/// <summary>A checksum stored in an LTX file does not match the data (file or database checksum).</summary>
public sealed class LtxChecksumMismatchException : LtxFormatException
{
    /// <summary>Creates the exception with the expected and actual values.</summary>
    public LtxChecksumMismatchException(string what, ulong expected, ulong actual)
        : base($"{what} checksum mismatch: expected {expected:x16}, got {actual:x16}")
    {
        Expected = expected;
        Actual = actual;
    }

    /// <summary>The checksum stored in the file.</summary>
    public ulong Expected { get; }

    /// <summary>The checksum computed from the data.</summary>
    public ulong Actual { get; }
}

/// <summary>A file does not continue from the position its reader expected.</summary>
public sealed class LtxPositionMismatchException : LtxFormatException
{
    /// <summary>Creates the exception for two positions.</summary>
    public LtxPositionMismatchException(LtxPosition expected, LtxPosition actual)
        : base($"position mismatch: expected {expected}, got {actual}")
    {
        Expected = expected;
        Actual = actual;
    }

    /// <summary>The position the reader was at.</summary>
    public LtxPosition Expected { get; }

    /// <summary>The position the file starts from.</summary>
    public LtxPosition Actual { get; }
}

/// <summary>An encrypted file names a key that is not configured (or no key is configured at all).</summary>
public sealed class LtxKeyMissingException : LtxFormatException
{
    /// <summary>Creates the exception for the file's key id and the keys at hand (null: none).</summary>
    public LtxKeyMissingException(uint keyId, LtxKeyRing? keys)
        : base(keys is null
            ? $"encrypted with key id {LtxPageCipher.FormatKeyId(keyId)} and no encryption key is configured"
            : $"encrypted with key id {LtxPageCipher.FormatKeyId(keyId)}, configured keys: {string.Join(", ", keys.KeyIds.Select(LtxPageCipher.FormatKeyId))}")
    {
        KeyId = keyId;
        KeysConfigured = keys is not null;
    }

    /// <summary>The key id the file's header names.</summary>
    public uint KeyId { get; }

    /// <summary>Whether any key was at hand (then none had this id).</summary>
    public bool KeysConfigured { get; }
}

/// <summary>An encrypted page did not authenticate: the key is wrong, or the page, its place or its file's header was changed.</summary>
public sealed class LtxAuthenticationException : LtxFormatException
{
    /// <summary>Creates the exception for page <paramref name="pgno"/>.</summary>
    public LtxAuthenticationException(uint pgno)
        : base($"page {pgno} failed authentication (wrong key or modified file)")
    {
        Pgno = pgno;
    }

    /// <summary>The page that failed.</summary>
    public uint Pgno { get; }
}
