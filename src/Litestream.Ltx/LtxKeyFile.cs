namespace Litestream.Ltx;

/// <summary>
/// Reads an encryption key from a file (<c>encryption.key-path</c>, <c>LITESTREAM_ENCRYPTION_KEY_PATH</c>): one owner
/// for the size cap, the permission warning and the wording of a refusal, which never repeats the file's text.
/// </summary>
public static class LtxKeyFile
{
    /// <summary>Larger files are refused unread: a key is 64 hex digits or 44 base64 characters, plus a newline.</summary>
    public const int MaxSize = 1024;

    /// <summary>
    /// The key in <paramref name="path"/>; <paramref name="warning"/> is set when group or others may read the file
    /// (the key is used anyway: the caller logs the warning).
    /// </summary>
    /// <exception cref="FormatException">The file is missing, too large, or holds no key; the message names the file.</exception>
    public static LtxPageCipher Read(string path, out string? warning)
    {
        ArgumentNullException.ThrowIfNull(path);
        var info = new FileInfo(path);
        if (!info.Exists)
        {
            throw new FormatException($"key file {path} does not exist");
        }
        if (info.Length > MaxSize)
        {
            throw new FormatException($"key file {path} is {info.Length} bytes; a key is 64 hex digits or 44 base64 characters");
        }
        warning = !OperatingSystem.IsWindows() && (info.UnixFileMode & (UnixFileMode.GroupRead | UnixFileMode.OtherRead)) != 0
            ? $"key file {path} is readable by group or others (chmod 600 it)"
            : null;
        return Parse(File.ReadAllText(path), $"key file {path}");
    }

    /// <summary>The key in <paramref name="text"/>; a refusal says "<paramref name="source"/> is not an encryption key…".</summary>
    /// <exception cref="FormatException">The text is not 32 bytes in either encoding.</exception>
    public static LtxPageCipher Parse(string text, string source)
    {
        try
        {
            return LtxPageCipher.Parse(text);
        }
        catch (FormatException e)
        {
            throw new FormatException($"{source} is {e.Message}", e);
        }
    }
}
