using System.Globalization;
using Litestream.Storage;

namespace Litestream.Aot.Config;

/// <summary>One replica section (or the top-level defaults): every per-replica key upstream v0.5 accepts, the backends' through <see cref="BackendKeys"/>.</summary>
[ConfigSection]
[ConfigOtherKeys(nameof(TryBindBackendKey))]
public sealed partial class ReplicaConfig
{
    /// <summary><c>url</c>.</summary>
    public string? Url { get; set; }
    /// <summary><c>name</c>: the replica's name among its database's <c>replicas:</c> (v0.3); default its type.</summary>
    public string? Name { get; set; }
    /// <summary><c>type</c>.</summary>
    [ConfigOneOf("file", "s3", "abs", "sftp", "webdav", "gs", "nats", "oss", Error = "unknown replica type \"{0}\"")]
    public string? Type { get; set; }
    /// <summary><c>path</c>.</summary>
    public string? Path { get; set; }
    /// <summary><c>sync-interval</c>.</summary>
    public TimeSpan? SyncInterval { get; set; }
    /// <summary><c>max-sync-ltx-files</c>.</summary>
    public int? MaxSyncLtxFiles { get; set; }
    /// <summary><c>auto-recover</c>.</summary>
    public bool? AutoRecover { get; set; }
    /// <summary><c>validation-interval</c>: restore the replica and compare it with the database this often.</summary>
    public TimeSpan? ValidationInterval { get; set; }
    /// <summary><c>age</c>: v0.3's encryption keys; only restore of v0.3 generations uses them.</summary>
    public AgeConfig Age { get; set; } = new();
    /// <summary><c>encryption</c>: client-side encryption of every file this replica holds (docs/ENCRYPTION.md).</summary>
    public EncryptionConfig? Encryption { get; set; }

    /// <summary>The encryption keys of this replica: its own <c>encryption</c> section, else the top-level one; null for a plain replica.</summary>
    public Litestream.Ltx.LtxKeyRing? EncryptionKeys(ReplicaConfig defaults) => (Encryption ?? defaults.Encryption)?.Keys;

    /// <summary>
    /// The backend keys as written (<c>bucket</c>, <c>part-size</c>, <c>account-name</c>, …): every key some
    /// backend of this build declares, read as that key's kind so a bad value fails here with its path. The
    /// backends declare their keys in their own folders (Storage/&lt;Backend&gt;/…Settings.cs); this section
    /// knows none of them.
    /// </summary>
    public Dictionary<string, string> BackendKeys { get; } = new(StringComparer.Ordinal);

    // Where the section was read from: a file replica's relative path resolves against the config file's directory.
    private ConfigContext? _context;
    private string _path = "";

    /// <summary>
    /// The age identities restore decrypts v0.3 objects with: this section's, else the top-level defaults' (upstream
    /// v0.5 <c>SetDefaults</c> merges <c>identities</c> and <c>recipients</c> separately).
    /// </summary>
    /// <exception cref="CommandException">Only recipients are configured: they encrypt, and cannot decrypt.</exception>
    public IReadOnlyList<string> AgeIdentities(ReplicaConfig defaults)
    {
        ArgumentNullException.ThrowIfNull(defaults);
        ReplicaConfig owner = Age.Identities.Count > 0 || defaults.Age.Identities.Count == 0 ? this : defaults;
        if (owner.Age.Identities.Count == 0 && (Age.Recipients.Count > 0 || defaults.Age.Recipients.Count > 0))
        {
            ReplicaConfig withRecipients = Age.Recipients.Count > 0 ? this : defaults;
            throw new CommandException($"{ConfigNode.Child(ConfigNode.Child(withRecipients._path, "age"), "recipients")}: age recipients encrypt, restore needs the identities",
                "add the matching private keys under age: identities: [AGE-SECRET-KEY-1…] (age-keygen wrote them beside each age1… recipient)");
        }
        return owner.Age.Identities;
    }

    /// <summary>
    /// Refuses <c>age:</c> for replication with upstream v0.5's error: this build writes LTX files, which are never
    /// age-encrypted, and writing plaintext where the config asks for encryption would be a lie.
    /// </summary>
    /// <exception cref="CommandException">This section (or the defaults) sets age keys.</exception>
    public void RejectAgeForReplication(ReplicaConfig defaults)
    {
        ArgumentNullException.ThrowIfNull(defaults);
        if ((Age.IsSet ? this : defaults.Age.IsSet ? defaults : null) is { } owner)
        {
            throw new CommandException(
                $"{ConfigNode.Child(owner._path, "age")}: age encryption is not currently supported, if you need encryption please revert back to Litestream v0.3.x",
                "this build writes LTX files, which age never encrypted; age: identities are read only by 'litestream restore', to decrypt v0.3 generations");
        }
    }

    /// <summary>
    /// The backend settings: the explicit keys, then what the URL names, then the top-level defaults for
    /// anything still unset. A file replica's directory is absolute: a relative <c>path</c>, bare <c>url</c> or
    /// <c>file://./…</c> URL resolves against the directory of the config file (the working directory for a
    /// config read from standard input or built in code), as the database paths do.
    /// </summary>
    public ReplicaSettings ToSettings(ReplicaConfig defaults)
    {
        ArgumentNullException.ThrowIfNull(defaults);
        string? url = Url ?? defaults.Url;
        ReplicaSettings fromUrl = url is not null ? ReplicaUrl.Parse(url) : new ReplicaSettings();
        string type = Type ?? fromUrl.Type ?? defaults.Type ?? "file";
        // A bare path as url: its text, not ReplicaUrl's reading of it (that one resolves against the working directory).
        string? path = Path ?? (url is not null && !ReplicaUrl.IsUrl(url) ? url : fromUrl.Path) ?? defaults.Path;
        if (type == "file" && !string.IsNullOrEmpty(path))
        {
            path = (_context ?? defaults._context)?.ResolvePath(path) ?? System.IO.Path.GetFullPath(path);
        }
        return new ReplicaSettings { Options = BackendKeys }.WithDefaultOptions(fromUrl.Options).WithDefaultOptions(defaults.BackendKeys) with
        {
            Type = type,
            Url = url,
            Path = path,
        };
    }

    /// <summary>
    /// Upstream's keys of backends this build may lack, so such a key fails as "not supported yet" rather than
    /// "unknown key". A key some backend of this build declares never gets here.
    /// </summary>
    private static readonly Dictionary<string, string> s_upstreamBackendKeys = new(StringComparer.Ordinal)
    {
        ["account-name"] = "abs", ["account-key"] = "abs", ["sas-token"] = "abs",
        ["host"] = "sftp", ["user"] = "sftp", ["password"] = "sftp", ["key-path"] = "sftp", ["host-key"] = "sftp", ["concurrent-writes"] = "sftp",
        ["webdav-url"] = "webdav", ["webdav-username"] = "webdav", ["webdav-password"] = "webdav",
        ["jwt"] = "nats", ["seed"] = "nats", ["creds"] = "nats", ["nkey"] = "nats", ["username"] = "nats", ["token"] = "nats", ["tls"] = "nats",
        ["root-cas"] = "nats", ["client-cert"] = "nats", ["client-key"] = "nats", ["max-reconnects"] = "nats", ["reconnect-wait"] = "nats", ["timeout"] = "nats",
    };

    /// <summary>Binds a key this section does not declare when a backend declares it (see <see cref="BackendKeys"/>).</summary>
    private static bool TryBindBackendKey(ReplicaConfig target, string key, ConfigNode value, string path)
    {
        if (ReplicaClientFactory.KeyKind(key) is not { } kind)
        {
            return s_upstreamBackendKeys.TryGetValue(key, out string? backend)
                ? throw new ConfigException(path, $"not supported yet ({backend} replicas)")
                : false;
        }
        string? text = kind switch
        {
            ReplicaKeyKind.Boolean => value.AsBoolean(path) ? "true" : "false",
            ReplicaKeyKind.Int32 => value.AsInt32(path).ToString(CultureInfo.InvariantCulture),
            ReplicaKeyKind.Int64 => value.AsInt64(path).ToString(CultureInfo.InvariantCulture),
            ReplicaKeyKind.Size => value.AsSize(path).ToString(CultureInfo.InvariantCulture),
            ReplicaKeyKind.Duration => GoDuration.Format(value.AsDuration(path)),
            ReplicaKeyKind.StringList => value.IsList ? string.Join('\n', value.AsList(path).Select((item, i) => item.AsString(ConfigNode.Item(path, i)))) : value.AsString(path),
            _ => value.AsString(path),
        };
        if (text is null)
        {
            target.BackendKeys.Remove(key);
        }
        else
        {
            target.BackendKeys[key] = text;
        }
        return true;
    }

    /// <summary>The name the replica goes by: <c>name:</c>, else its type (<c>type:</c>, the url's scheme, else file), as v0.3 named them.</summary>
    public string DisplayName(ReplicaConfig defaults)
    {
        ArgumentNullException.ThrowIfNull(defaults);
        return Name ?? TypeName(defaults);
    }

    /// <summary>The backend type: <c>type:</c>, the url's scheme, else file.</summary>
    public string TypeName(ReplicaConfig defaults)
    {
        ArgumentNullException.ThrowIfNull(defaults);
        string? url = Url ?? defaults.Url;
        return Type ?? (url is not null && ReplicaUrl.IsUrl(url) ? ReplicaUrl.Parse(url).Type : null) ?? defaults.Type ?? "file";
    }

    /// <summary>A replica's url must parse, and its scheme must agree with an explicit <c>type</c>.</summary>
    private void CheckUrl(string path)
    {
        if (Url is null)
        {
            return;
        }
        string scheme;
        try
        {
            scheme = ReplicaUrl.Parse(Url).Type!;
        }
        catch (ArgumentException e)
        {
            throw new ConfigException(ConfigNode.Child(path, "url"), e.Message);
        }
        if (Type is not null && ReplicaUrl.IsUrl(Url) && scheme != Type)
        {
            throw new ConfigException(ConfigNode.Child(path, "type"), $"replica type \"{Type}\" does not match url scheme \"{scheme}\"");
        }
    }

    /// <summary>Checks the url and remembers where the section was read from (also for the inline top-level defaults).</summary>
    internal void Complete(string path, ConfigContext context)
    {
        _context = context;
        _path = path;
        CheckUrl(path);
    }

    partial void OnBound(string path, ConfigContext context) => Complete(path, context);
}
