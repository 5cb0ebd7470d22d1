using Litestream.Ltx;

namespace Litestream.Aot.Config;

/// <summary>
/// A replica's <c>encryption</c> section (docs/ENCRYPTION.md): the current key, from a file or inline (use
/// <c>${ENV}</c>), and previous keys that are still read. Keys are read when the config loads, so a bad key fails
/// there with its path; the key itself is never printed.
/// </summary>
[ConfigSection]
public sealed partial class EncryptionConfig
{
    /// <summary><c>encryption.key-path</c>: a file holding the key as 64 hex digits or base64 of 32 bytes.</summary>
    [ConfigKey("key-path")]
    public string? KeyPath { get; set; }
    /// <summary><c>encryption.key</c>: the key itself, in the same encodings.</summary>
    public string? Key { get; set; }
    /// <summary><c>encryption.previous-key-paths</c>: rotated-out keys, read and never written.</summary>
    [ConfigKey("previous-key-paths")]
    public List<string>? PreviousKeyPaths { get; set; }
    /// <summary>
    /// <c>encryption.compress</c>: false stores pages uncompressed (fixed-length LZ4 literal blocks), so that sealed
    /// sizes reveal nothing about the rows; true (the default) compresses, which costs that side channel.
    /// </summary>
    public bool Compress { get; set; } = true;

    private LtxKeyRing? _keys;
    private readonly List<string> _warnings = [];

    /// <summary>The key ring, read when the section was bound.</summary>
    public LtxKeyRing? Keys => _keys;

    /// <summary>Warnings found reading the keys (a key file others may read), for the command to log.</summary>
    public IReadOnlyList<string> Warnings => _warnings;

    partial void OnBound(string path, ConfigContext context)
    {
        if ((KeyPath is null) == (Key is null))
        {
            throw new ConfigException(path, KeyPath is null ? "key-path or key required" : "give key-path or key, not both");
        }
        LtxPageCipher current = KeyPath is not null
            ? ReadKeyFile(context.ResolvePath(KeyPath), ConfigNode.Child(path, "key-path"))
            : Parse(Key!, ConfigNode.Child(path, "key"), "the key");
        var previous = new List<LtxPageCipher>();
        for (int i = 0; i < (PreviousKeyPaths?.Count ?? 0); i++)
        {
            string itemPath = $"{ConfigNode.Child(path, "previous-key-paths")}[{i}]";
            previous.Add(ReadKeyFile(context.ResolvePath(PreviousKeyPaths![i]), itemPath));
        }
        _keys = new LtxKeyRing(Compress ? current : current.WithoutCompression(), previous);
    }

    private LtxPageCipher ReadKeyFile(string file, string path)
    {
        try
        {
            LtxPageCipher key = LtxKeyFile.Read(file, out string? warning);
            if (warning is not null)
            {
                _warnings.Add(warning);
            }
            return key;
        }
        catch (FormatException e)
        {
            throw new ConfigException(path, e.Message);
        }
    }

    /// <summary>32 bytes from 64 hex digits or base64; the error never repeats the text.</summary>
    private static LtxPageCipher Parse(string text, string path, string what)
    {
        try
        {
            return LtxKeyFile.Parse(text, what);
        }
        catch (FormatException e)
        {
            throw new ConfigException(path, e.Message);
        }
    }
}
