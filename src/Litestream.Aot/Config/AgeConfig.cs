using Litestream.Restore.Age;

namespace Litestream.Aot.Config;

/// <summary>
/// A replica's <c>age:</c> section, as Litestream v0.3 wrote it (<c>age: {identities: [...], recipients: [...]}</c>).
/// This build writes LTX, which age never encrypted, so <c>replicate</c> refuses it as upstream v0.5 does; <c>restore</c>
/// decrypts v0.3 generations with <see cref="Identities"/>. Each entry is read as an age identity file (upstream
/// v0.3's <c>age.ParseIdentities</c> per string): one key a line, <c>#</c> comments allowed.
/// </summary>
[ConfigSection]
public sealed partial class AgeConfig
{
    /// <summary><c>identities</c>: <c>AGE-SECRET-KEY-1…</c> strings, checked when the config is loaded.</summary>
    public List<string> Identities { get; set; } = [];

    /// <summary><c>recipients</c>: <c>age1…</c> public keys; v0.3 encrypted to them, restore cannot use them.</summary>
    public List<string> Recipients { get; set; } = [];

    /// <summary>True when the section names any key.</summary>
    public bool IsSet => Identities.Count > 0 || Recipients.Count > 0;

    partial void OnBound(string path, ConfigContext context)
    {
        for (int i = 0; i < Identities.Count; i++)
        {
            string item = ConfigNode.Item(ConfigNode.Child(path, "identities"), i);
            try
            {
                AgeIdentity.Validate(Identities[i]);
            }
            catch (FormatException e)
            {
                // The message never holds the key itself.
                throw new ConfigException(item, e.Message);
            }
        }
    }
}
