namespace Litestream.Ltx;

/// <summary>
/// The keys of an encrypted replica: the current one, which every new file is written under, and previous ones
/// that are only read (rotation: compaction rewrites what it merges under the current key).
/// </summary>
public sealed class LtxKeyRing
{
    private readonly LtxPageCipher[] _all;

    /// <summary>A ring writing under <paramref name="current"/> and reading files of any of the keys.</summary>
    public LtxKeyRing(LtxPageCipher current, params IEnumerable<LtxPageCipher> previous)
    {
        ArgumentNullException.ThrowIfNull(current);
        Current = current;
        _all = [current, .. previous];
    }

    /// <summary>The key new files are encrypted with.</summary>
    public LtxPageCipher Current { get; }

    /// <summary>The ids of every key, current first.</summary>
    public IEnumerable<uint> KeyIds => _all.Select(key => key.KeyId);

    /// <summary>The key a file's header names.</summary>
    /// <exception cref="LtxKeyMissingException">No key of the ring has that id.</exception>
    public LtxPageCipher Find(uint keyId)
        => Array.Find(_all, key => key.KeyId == keyId) ?? throw new LtxKeyMissingException(keyId, this);
}
