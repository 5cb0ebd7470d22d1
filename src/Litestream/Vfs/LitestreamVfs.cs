using Litestream.Ltx;
using Litestream.Restore;
using Litestream.Storage;
using Litestream.Vfs.Native;

namespace Litestream.Vfs;

/// <summary>
/// Read replicas without a restore: a read-only SQLite VFS named <c>litestream</c> that serves a database
/// straight from its replica's LTX files (pages fetched on demand with ranged reads, an LRU page cache,
/// polling for new files, and time travel through <c>PRAGMA litestream_time</c>). Register a replica
/// under a name and open it with Microsoft.Data.Sqlite:
/// <code>
/// LitestreamVfs.AddReplica("fruits.db", client, new VfsReplicaOptions { PollInterval = TimeSpan.FromSeconds(1) });
/// using var c = new SqliteConnection("Data Source=file:fruits.db?vfs=litestream;Mode=ReadOnly");
/// </code>
/// The VFS registers itself with the app's SQLite (SQLitePCLRaw's e_sqlite3) on the first
/// <see cref="AddReplica"/>. A URI may also name the replica directly (<c>file:x.db?vfs=litestream&amp;replica=file:///path</c>).
/// </summary>
public static class LitestreamVfs
{
    /// <summary>The VFS name to put in the connection URI (<c>vfs=litestream</c>).</summary>
    public const string VfsName = "litestream";

    // Network clients the VFS makes from a URL fail fast: SQLite waits inside a read call (the host's query, or
    // its open) while the SDK retries, and an unreachable endpoint must become an SQLITE_IOERR in seconds,
    // not after the SDK's full retry schedule. Reads are single pages and page indexes, never large.
    private const int UrlClientRetries = 1;
    private static readonly TimeSpan s_urlClientConnectTimeout = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan s_urlClientRequestTimeout = TimeSpan.FromSeconds(30);

    private static readonly Dictionary<string, VfsReplica> s_named = new(StringComparer.Ordinal);
    private static readonly Dictionary<string, VfsReplica> s_byUrl = new(StringComparer.Ordinal);

    /// <summary>
    /// Makes <paramref name="client"/>'s replica readable as the database <paramref name="name"/> through the
    /// <c>litestream</c> VFS, replacing a replica of that name. The client stays owned by the caller.
    /// </summary>
    /// <exception cref="InvalidOperationException">The VFS could not be registered with e_sqlite3.</exception>
    public static void AddReplica(string name, IReplicaClient client, VfsReplicaOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(client);
        int rc = NativeVfs.Register(new BundledSqliteHost(), VfsName);
        if (rc != 0)
        {
            throw new InvalidOperationException($"sqlite3_vfs_register(\"{VfsName}\") failed with SQLite code {rc}");
        }
        var replica = new VfsReplica(name, client, options ?? new VfsReplicaOptions());
        VfsReplica? old;
        lock (s_named)
        {
            s_named.Remove(name, out old);
            s_named[name] = replica;
        }
        old?.Dispose();
    }

    /// <summary>
    /// How far the replica <paramref name="name"/>'s readers are behind its replica's head (LiteFS's <c>Lag</c>): the
    /// newest TXID polling made readable against the newest the replica holds, and the difference of their capture
    /// times (<see cref="FollowerLag"/>, whose <see cref="FollowerLag.Path"/> is the name here).
    /// </summary>
    /// <exception cref="KeyNotFoundException">No replica of that name was added.</exception>
    /// <exception cref="InvalidOperationException">It was never opened: no connection has read it yet.</exception>
    public static async ValueTask<FollowerLag> LagAsync(string name, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        VfsReplica replica;
        lock (s_named)
        {
            replica = s_named.TryGetValue(name, out VfsReplica? found) ? found : throw new KeyNotFoundException($"no replica named {name} was added to the litestream VFS");
        }
        VfsSnapshot latest = replica.Latest ?? throw new InvalidOperationException($"replica {name} has not been opened yet: no connection has read it");
        return await FollowerLag.MeasureAsync(name, latest.Txid, replica.Client, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Forgets the replica <paramref name="name"/> and stops polling it; false when there was none.
    /// Connections already open keep reading the last state they saw.</summary>
    public static bool RemoveReplica(string name)
    {
        VfsReplica? old;
        lock (s_named)
        {
            s_named.Remove(name, out old);
        }
        old?.Dispose();
        return old is not null;
    }


    /// <summary>
    /// Finds the replica for a database SQLite opens: a name registered with <see cref="AddReplica"/> (the
    /// path as given, or its file name), else the URI's <c>replica=</c> URL, else <c>LITESTREAM_REPLICA_URL</c>.
    /// Replicas opened from URLs are shared by every connection to the same URL.
    /// </summary>
    internal static VfsReplica? Resolve(string path, string? replicaUrl)
    {
        lock (s_named)
        {
            if (s_named.TryGetValue(path, out VfsReplica? named) || s_named.TryGetValue(Path.GetFileName(path), out named))
            {
                return named;
            }
        }
        string? url = string.IsNullOrEmpty(replicaUrl) ? Environment.GetEnvironmentVariable("LITESTREAM_REPLICA_URL") : replicaUrl;
        if (string.IsNullOrEmpty(url))
        {
            return null;
        }
        lock (s_byUrl)
        {
            if (!s_byUrl.TryGetValue(url, out VfsReplica? replica))
            {
                VfsReplicaOptions options = OptionsFromEnvironment();
                IReplicaClient client = ReplicaClientFactory.Create(new ReplicaSettings
                {
                    Url = url,
                    MaxRetries = UrlClientRetries,
                    ConnectTimeout = s_urlClientConnectTimeout,
                    RequestTimeout = s_urlClientRequestTimeout,
                });
                replica = new VfsReplica(ReplicaUrl.Redact(url), client, options);
                s_byUrl[url] = replica;
            }
            return replica;
        }
    }

    /// <summary>
    /// Options for URL replicas: <c>LITESTREAM_POLL_INTERVAL</c> (milliseconds or a Go duration),
    /// <c>LITESTREAM_CACHE_SIZE</c> (bytes), <c>LITESTREAM_HYDRATION_ENABLED</c> (<c>true</c>, as upstream),
    /// <c>LITESTREAM_HYDRATION_PATH</c>, <c>LITESTREAM_WRITE_ENABLED</c> (<c>true</c>, as upstream) with
    /// <c>LITESTREAM_SYNC_INTERVAL</c> (a Go duration) and <c>LITESTREAM_BUFFER_PATH</c>, and the keys of an encrypted replica (ours; upstream has no encryption):
    /// <c>LITESTREAM_ENCRYPTION_KEY</c> (64 hex digits or base64) or <c>LITESTREAM_ENCRYPTION_KEY_PATH</c> (a file
    /// holding it), and <c>LITESTREAM_ENCRYPTION_PREVIOUS_KEY_PATHS</c> (rotated-out keys, separated by ':').
    /// </summary>
    /// <exception cref="FormatException">A key is not 32 bytes as hex or base64, or both key variables are set.</exception>
    /// <exception cref="IOException">A key file cannot be read.</exception>
    private static VfsReplicaOptions OptionsFromEnvironment()
    {
        var options = new VfsReplicaOptions();
        if (Environment.GetEnvironmentVariable("LITESTREAM_POLL_INTERVAL") is { Length: > 0 } poll
            && VfsTime.TryParseInterval(poll, out TimeSpan interval) && interval > TimeSpan.Zero)
        {
            options = options with { PollInterval = interval };
        }
        if (long.TryParse(Environment.GetEnvironmentVariable("LITESTREAM_CACHE_SIZE"), out long size) && size >= 0)
        {
            options = options with { CacheSize = size };
        }
        if (string.Equals(Environment.GetEnvironmentVariable("LITESTREAM_HYDRATION_ENABLED"), "true", StringComparison.OrdinalIgnoreCase))
        {
            options = options with
            {
                HydrationEnabled = true,
                HydrationPath = Environment.GetEnvironmentVariable("LITESTREAM_HYDRATION_PATH") is { Length: > 0 } path ? path : null,
            };
        }
        if (string.Equals(Environment.GetEnvironmentVariable("LITESTREAM_WRITE_ENABLED"), "true", StringComparison.OrdinalIgnoreCase))
        {
            options = options with
            {
                WriteEnabled = true,
                BufferPath = Environment.GetEnvironmentVariable("LITESTREAM_BUFFER_PATH") is { Length: > 0 } buffer ? buffer : null,
            };
            if (Environment.GetEnvironmentVariable("LITESTREAM_SYNC_INTERVAL") is { Length: > 0 } sync)
            {
                options = options with
                {
                    SyncInterval = VfsTime.TryParseInterval(sync, out TimeSpan every) && every > TimeSpan.Zero
                        ? every
                        : throw new FormatException($"invalid LITESTREAM_SYNC_INTERVAL: {sync}"),
                };
            }
        }
        return options with { Encryption = KeysFromEnvironment() };
    }

    private static LtxKeyRing? KeysFromEnvironment()
    {
        string? key = Environment.GetEnvironmentVariable("LITESTREAM_ENCRYPTION_KEY") is { Length: > 0 } k ? k : null;
        string? keyPath = Environment.GetEnvironmentVariable("LITESTREAM_ENCRYPTION_KEY_PATH") is { Length: > 0 } p ? p : null;
        if (key is not null && keyPath is not null)
        {
            throw new FormatException("set LITESTREAM_ENCRYPTION_KEY or LITESTREAM_ENCRYPTION_KEY_PATH, not both");
        }
        if (key is null && keyPath is null)
        {
            return null;
        }
        LtxPageCipher current = key is not null ? LtxKeyFile.Parse(key, "LITESTREAM_ENCRYPTION_KEY") : ReadKeyFile(keyPath!);
        string[] previous = (Environment.GetEnvironmentVariable("LITESTREAM_ENCRYPTION_PREVIOUS_KEY_PATHS") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return new LtxKeyRing(current, previous.Select(ReadKeyFile));
    }

    private static LtxPageCipher ReadKeyFile(string path)
    {
        LtxPageCipher key = LtxKeyFile.Read(path, out string? warning);
        if (warning is not null)
        {
            VfsLog.Write(VfsLog.Level.Warn, warning);
        }
        return key;
    }
}
