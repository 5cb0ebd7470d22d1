using System.Globalization;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Litestream.Internal;
using Litestream.Ltx;

namespace Litestream.Storage.Nats;

/// <summary>
/// A replica in a NATS JetStream object store bucket (upstream <c>nats.ReplicaClient</c>): objects named
/// <c>[&lt;path&gt;/]ltx/&lt;level&gt;/&lt;min&gt;-&lt;max&gt;.ltx</c>, each with the LTX header time in its
/// <c>Litestream-Timestamp</c> header, so a listing carries exact times. A put publishes the chunks under a fresh
/// id and then the object's metadata: readers see the old object or the whole new one, never a part. The bucket
/// must exist (as upstream: its replicas, storage and limits are the operator's choice). One connection
/// (<see cref="NatsWire"/>, our own protocol client: NATS.Client cost 4 MB of the binary) serves every request; a
/// connection that fails is replaced at the next request, reconnect-wait apart and at most max-reconnects times
/// in a row, as nats.go reconnects (see <see cref="StoreAsync"/>). Connect,
/// every request, and each chunk of a transfer have bounded times.
/// </summary>
[ReplicaBackend("nats")]
public sealed class NatsReplicaClient : IReplicaClient
{
    /// <summary>The NATS port when <c>host</c> names none.</summary>
    public const int DefaultPort = 4222;
    /// <summary>The host when neither the URL nor <c>host</c> names one (nats.go's default URL).</summary>
    public const string DefaultHost = "127.0.0.1";
    /// <summary>The object header holding the LTX creation time (Go RFC3339Nano), as upstream writes it.</summary>
    public const string TimestampHeader = "Litestream-Timestamp";
    /// <summary>Deletes in flight at once.</summary>
    public const int DeleteConcurrency = 8;
    /// <summary>Default wait between reconnect attempts (upstream's).</summary>
    public static readonly TimeSpan DefaultReconnectWait = TimeSpan.FromSeconds(2);

    private readonly SemaphoreSlim _connectLock = new(1, 1);
    private readonly TimeSpan _connectTimeout;
    private readonly TimeSpan _requestTimeout;
    private readonly TimeSpan _idleTimeout;
    private NatsWire? _connection;
    private NatsObjectBucket? _store;
    private long _droppedAt;
    private bool _disposed;
    /// <summary>A connection was made once: a later one is a reconnect, counted against max-reconnects.</summary>
    private bool _everConnected;
    /// <summary>Reconnect attempts since the connection was lost.</summary>
    private int _reconnects;
    /// <summary>Set when max-reconnects is spent: the client is closed for good, as nats.go's connection.</summary>
    private ReplicaStorageException? _gaveUp;

    /// <summary>Creates a client; nothing is sent until the first operation.</summary>
    /// <exception cref="ArgumentException">No bucket, a bad port, or only one of client-cert and client-key.</exception>
    public NatsReplicaClient(NatsReplicaSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        Settings = settings;
        (Host, Port) = ReplicaHost.Split(NonEmpty(settings.Host) ?? DefaultHost, DefaultPort, "nats");
        Bucket = NonEmpty(settings.Bucket) ?? throw new ArgumentException("nats replica requires bucket (nats://host:port/bucket/path)");
        if ((NonEmpty(settings.ClientCert) is null) != (NonEmpty(settings.ClientKey) is null))
        {
            throw new ArgumentException("nats client-cert and client-key must both be set for mutual TLS");
        }
        foreach (string? secret in (string?[])[settings.Jwt, settings.Seed, settings.Nkey, settings.Password, settings.Token])
        {
            Redaction.Register(secret);
        }
        Path = (settings.Path ?? "").Trim('/');
        StorageTimeouts timeouts = StorageTimeouts.FromEnvironment();
        _connectTimeout = settings.Timeout ?? settings.ConnectTimeout ?? timeouts.Connect;
        _requestTimeout = settings.RequestTimeout ?? timeouts.Response;
        _idleTimeout = timeouts.Idle;
    }

    /// <summary>Creates the client from settings (used by <see cref="ReplicaClientFactory"/>).</summary>
    public static IReplicaClient Create(NatsReplicaSettings settings) => new NatsReplicaClient(settings);

    /// <summary>The settings this client was made with (ToString prints no credential).</summary>
    public NatsReplicaSettings Settings { get; }

    /// <inheritdoc />
    public string Type => "nats";

    /// <summary>The server's host name or address.</summary>
    public string Host { get; }

    /// <summary>The server's port.</summary>
    public int Port { get; }

    /// <summary>The object store bucket.</summary>
    public string Bucket { get; }

    /// <summary>The prefix of the replica's object names inside the bucket ("" for none).</summary>
    public string Path { get; }

    /// <summary>True while a connection is open and not known to be closed (tests wait on it).</summary>
    internal bool IsConnected => _connection is { IsClosed: false };

    /// <summary>Name prefix of one level's objects, e.g. <c>db/ltx/9/</c>.</summary>
    public string LevelPrefix(int level) => Join($"ltx/{level.ToString(CultureInfo.InvariantCulture)}/");

    /// <summary>Object name of one LTX file.</summary>
    public string LtxName(int level, Txid minTxid, Txid maxTxid) => LevelPrefix(level) + LtxFileName.Format(minTxid, maxTxid);

    /// <summary>Where an object is, for messages: <c>nats://host:port/bucket/name</c>.</summary>
    public string Location(string name) => $"nats://{ReplicaHost.Format(Host, Port)}/{Bucket}{(name.Length > 0 ? "/" + name : "")}";

    /// <summary>Connects, logs in and opens the bucket (the first call; later calls do nothing while the connection lives).</summary>
    public async ValueTask InitAsync(CancellationToken cancellationToken) => await StoreAsync(cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public IAsyncEnumerable<LtxFileInfo> ListLtxFilesAsync(int level, Txid seek, bool useMetadata, CancellationToken cancellationToken)
    {
        return List(cancellationToken);

        // The header time comes with every listed object, so useMetadata costs nothing here (as upstream).
        async IAsyncEnumerable<LtxFileInfo> List([EnumeratorCancellation] CancellationToken token)
        {
            string prefix = LevelPrefix(level);
            var files = new List<LtxFileInfo>();
            foreach (NatsObjectInfo meta in await ListAsync(prefix, token).ConfigureAwait(false))
            {
                if (LtxFileName.TryParse(meta.Name.AsSpan(prefix.Length), out Txid min, out Txid max) && min >= seek)
                {
                    files.Add(new LtxFileInfo(level, min, max, meta.Size, CreatedAt(meta)));
                }
            }
            // The store lists in the order objects were last written.
            files.Sort(static (a, b) => a.MinTxid != b.MinTxid ? a.MinTxid.CompareTo(b.MinTxid) : a.MaxTxid.CompareTo(b.MaxTxid));
            foreach (LtxFileInfo file in files)
            {
                yield return file;
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask<Stream> OpenLtxFileAsync(int level, Txid minTxid, Txid maxTxid, long offset, long size, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        string name = LtxName(level, minTxid, maxTxid);
        // Asked first, so a missing file is ReplicaFileNotFoundException here rather than an error mid-read.
        (NatsObjectBucket store, NatsObjectInfo info) = await RunAsync("get", name, async (s, token) =>
        {
            try
            {
                return (s, await s.GetInfoAsync(name, token).ConfigureAwait(false));
            }
            catch (NatsObjectNotFoundException e)
            {
                throw new ReplicaFileNotFoundException(Location(name), e);
            }
        }, cancellationToken).ConfigureAwait(false);
        var download = new NatsObjectReadStream(store, info, e =>
        {
            DropIfClosed();
            return Failure("get", name, e);
        });
        // The object store has no ranged read: the bytes before offset are read and dropped (as upstream).
        var guarded = new StallGuardStream(download, _idleTimeout, $"nats: get {Location(name)}", CancellationToken.None);
        try
        {
            await SkipAsync(guarded, offset, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await guarded.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return size > 0 ? new BoundedStream(guarded, size) : guarded;
    }

    /// <inheritdoc />
    public async ValueTask<LtxFileInfo> WriteLtxFileAsync(int level, Txid minTxid, Txid maxTxid, Stream data, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(data);
        string name = LtxName(level, minTxid, maxTxid);
        (HeaderedStream body, DateTimeOffset createdAt) = await HeaderedStream.ReadLtxHeaderAsync(data, cancellationToken).ConfigureAwait(false);
        using var disposeBody = body;
        NatsObjectBucket store = await StoreAsync(cancellationToken).ConfigureAwait(false);
        var headers = new Dictionary<string, string[]> { [TimestampHeader] = [ReplicaTimestamp.Format(createdAt)] };
        // Not retried here: the source cannot be read twice. The caller retries the whole file.
        using var upload = new NatsUploadDeadline(body, _requestTimeout, cancellationToken);
        try
        {
            await store.PutAsync(name, headers, upload, upload.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (IsNatsError(e, cancellationToken) || upload.Stalled(cancellationToken))
        {
            DropIfClosed();
            throw Failure("put", name, upload.Stalled(cancellationToken) ? new TimeoutException() : e);
        }
        return new LtxFileInfo(level, minTxid, maxTxid, body.Count, createdAt);
    }

    /// <inheritdoc />
    public async ValueTask DeleteLtxFilesAsync(IReadOnlyList<LtxFileInfo> files, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(files);
        await DeleteAsync(files.Select(f => LtxName(f.Level, f.MinTxid, f.MaxTxid)), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    /// <remarks>Everything under <see cref="Path"/>; with no path, every object of the bucket (as upstream).</remarks>
    public async ValueTask DeleteAllAsync(CancellationToken cancellationToken)
    {
        List<NatsObjectInfo> objects = await ListAsync(Path.Length == 0 ? "" : Path + "/", cancellationToken).ConfigureAwait(false);
        await DeleteAsync(objects.Select(o => o.Name), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _connectLock.WaitAsync().ConfigureAwait(false);
        try
        {
            _disposed = true;
            _store = null;
            if (_connection is { } connection)
            {
                _connection = null;
                await connection.DisposeAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            _connectLock.Release();
        }
    }

    /// <summary>The live objects whose names start with <paramref name="prefix"/>; each object must arrive within the request timeout.</summary>
    private Task<List<NatsObjectInfo>> ListAsync(string prefix, CancellationToken cancellationToken)
        => RunAsync("list", prefix, (store, token) => store.ListAsync(prefix, token), cancellationToken, perItem: true);

    private async Task DeleteAsync(IEnumerable<string> names, CancellationToken cancellationToken)
    {
        await Parallel.ForEachAsync(names, new ParallelOptions { MaxDegreeOfParallelism = DeleteConcurrency, CancellationToken = cancellationToken }, async (name, token) =>
            await RunAsync("delete", name, async (store, t) =>
            {
                try
                {
                    await store.DeleteAsync(name, t).ConfigureAwait(false);
                }
                catch (NatsObjectNotFoundException)
                {
                    // Already gone.
                }
                return true;
            }, token).ConfigureAwait(false)).ConfigureAwait(false);
    }

    /// <summary>
    /// Runs one request on the bucket under the request timeout (a listing, <paramref name="perItem"/>, under the longer
    /// idle limit: it may hold thousands of objects); failures become <see cref="ReplicaStorageException"/>.
    /// A connection the client gave up on is dropped, so the next request connects afresh.
    /// </summary>
    private async Task<T> RunAsync<T>(string operation, string name, Func<NatsObjectBucket, CancellationToken, Task<T>> request, CancellationToken cancellationToken, bool perItem = false)
    {
        NatsObjectBucket store = await StoreAsync(cancellationToken).ConfigureAwait(false);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(perItem ? _idleTimeout : _requestTimeout);
        try
        {
            return await request(store, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not ReplicaFileNotFoundException && IsNatsError(e, cancellationToken))
        {
            DropIfClosed();
            throw Failure(operation, name, e);
        }
    }

    /// <summary>
    /// The bucket, connecting and opening it first when needed. The first connection is one attempt (bounded by the
    /// connect + request timeouts), as nats.go's <c>Connect</c>. A connection that was lost is restored as nats.go
    /// reconnects: attempts reconnect-wait apart, counted against max-reconnects (-1: no limit; the count starts again
    /// once connected), for at most the connect + request timeouts within one call (the count goes on in the next);
    /// when the count is spent the client gives up for good, as nats.go closes the connection: every later call fails
    /// with the same error naming server, bucket and the limit.
    /// </summary>
    private async ValueTask<NatsObjectBucket> StoreAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _store) is { } ready && _connection is not { IsClosed: true })
        {
            return ready;
        }
        await _connectLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_store is { } store && _connection is not { IsClosed: true })
            {
                return store;
            }
            if (_connection is { } lost)
            {
                // Closed under us (the server went away): gone, and the reconnect count starts from here.
                _connection = null;
                Volatile.Write(ref _store, null);
                Volatile.Write(ref _droppedAt, Environment.TickCount64);
                await DisposeQuietly(lost).ConfigureAwait(false);
            }
            long deadline = Environment.TickCount64 + (long)(_connectTimeout + _requestTimeout).TotalMilliseconds;
            while (true)
            {
                if (_gaveUp is { } gaveUp)
                {
                    throw gaveUp;
                }
                int max = Settings.MaxReconnects ?? -1;
                if (_everConnected && max >= 0 && _reconnects >= max)
                {
                    _gaveUp = new ReplicaStorageException(
                        $"nats: connect {Location(Path)}: the connection was lost and not restored after {_reconnects.ToString(CultureInfo.InvariantCulture)} reconnect attempts (max-reconnects {max.ToString(CultureInfo.InvariantCulture)})",
                        $"restart litestream once nats://{ReplicaHost.Format(Host, Port)} is reachable again, or raise max-reconnects (-1: no limit)");
                    throw _gaveUp;
                }
                await ReconnectPauseAsync(cancellationToken).ConfigureAwait(false);
                if (_everConnected)
                {
                    _reconnects++;
                }
                try
                {
                    store = await ConnectAsync(cancellationToken).ConfigureAwait(false);
                    _everConnected = true;
                    _reconnects = 0;
                    return store;
                }
                catch (ReplicaStorageException) when (_everConnected && Environment.TickCount64 < deadline)
                {
                    // Lost before: try again reconnect-wait later, within this call's budget.
                }
            }
        }
        finally
        {
            _connectLock.Release();
        }
    }

    /// <summary>One attempt: connect, log in, open the bucket (bounded by the connect + request timeouts).</summary>
    private async Task<NatsObjectBucket> ConnectAsync(CancellationToken cancellationToken)
    {
        NatsWireOptions options = Options();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_connectTimeout + _requestTimeout);
        NatsWire? connection = null;
        NatsObjectBucket store;
        try
        {
            connection = await NatsWire.ConnectAsync(options, timeout.Token).ConfigureAwait(false);
            store = await NatsObjectBucket.OpenAsync(connection, Bucket, _requestTimeout, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (IsNatsError(e, cancellationToken))
        {
            await DisposeQuietly(connection).ConfigureAwait(false);
            Volatile.Write(ref _droppedAt, Environment.TickCount64);
            throw Failure("connect", Path, e is OperationCanceledException ? new TimeoutException() : e, _connectTimeout + _requestTimeout);
        }
        catch
        {
            await DisposeQuietly(connection).ConfigureAwait(false);
            throw;
        }
        _connection = connection;
        Volatile.Write(ref _store, store);
        return store;
    }

    /// <summary>The connection options: server, credentials (upstream's order), TLS.</summary>
    private NatsWireOptions Options()
    {
        NatsReplicaSettings s = Settings;
        X509Certificate2? certificate = null;
        if (NonEmpty(s.ClientCert) is { } cert && NonEmpty(s.ClientKey) is { } key)
        {
            try
            {
                certificate = X509Certificate2.CreateFromPemFile(cert, key);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
            {
                throw new ReplicaStorageException($"nats: client-cert {cert}: cannot load it with client-key {key}: {FirstLine(e.Message)}", "client-cert and client-key are PEM files of the client's certificate and its private key");
            }
        }
        return new NatsWireOptions(Host, Port, s.Tls ?? false, s.RootCas is { Count: > 0 } roots ? ReadRootCas(roots) : null, certificate, Credentials(), _connectTimeout);
    }

    /// <summary>After a failed connection, waits until reconnect-wait has passed since the failure (upstream's pace).</summary>
    private async Task ReconnectPauseAsync(CancellationToken cancellationToken)
    {
        long droppedAt = Volatile.Read(ref _droppedAt);
        if (droppedAt == 0)
        {
            return;
        }
        TimeSpan wait = (Settings.ReconnectWait ?? DefaultReconnectWait) - TimeSpan.FromMilliseconds(Environment.TickCount64 - droppedAt);
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The first credential set, in upstream's order: jwt + seed, creds, nkey, username + password, token.</summary>
    private NatsLogin Credentials()
    {
        NatsReplicaSettings s = Settings;
        if (NonEmpty(s.Jwt) is { } jwt && NonEmpty(s.Seed) is { } seed)
        {
            return new NatsLogin { Jwt = jwt, Seed = seed };
        }
        if (NonEmpty(s.Creds) is { } creds)
        {
            return new NatsLogin { CredsFile = creds };
        }
        if (NonEmpty(s.Nkey) is { } nkey)
        {
            if (!nkey.StartsWith("SU", StringComparison.Ordinal))
            {
                return new NatsLogin { NkeyFile = nkey };
            }
            try
            {
                NatsUserSeed.Parse(nkey);
            }
            catch (FormatException)
            {
                throw new ReplicaStorageException($"nats: connect {Location(Path)}: nkey is not a valid user seed", "nkey takes a user seed (SU…) or the path of a file holding one (nsc or nk -gen user prints one)");
            }
            return new NatsLogin { Seed = nkey };
        }
        if (NonEmpty(s.Username) is { } user && NonEmpty(s.Password) is { } password)
        {
            return new NatsLogin { User = user, Password = password };
        }
        return NonEmpty(s.Token) is { } token ? new NatsLogin { Token = token } : NatsLogin.None;
    }

    /// <summary>The certificates of the root-cas PEM files.</summary>
    private static X509Certificate2Collection ReadRootCas(IReadOnlyList<string> files)
    {
        var bundle = new X509Certificate2Collection();
        foreach (string file in files)
        {
            try
            {
                bundle.ImportFromPemFile(file);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
            {
                throw new ReplicaStorageException($"nats: root-cas {file}: cannot read it: {FirstLine(e.Message)}", "root-cas lists PEM files of the certificate authorities that sign the server's certificate");
            }
        }
        return bundle;
    }

    /// <summary>Forgets a connection that failed, so the next request connects again.</summary>
    private void DropIfClosed()
    {
        if (_connection is { IsClosed: true } connection && _connectLock.Wait(0))
        {
            try
            {
                if (_connection == connection)
                {
                    _connection = null;
                    Volatile.Write(ref _store, null);
                    Volatile.Write(ref _droppedAt, Environment.TickCount64);
                    _ = connection.DisposeAsync().AsTask();
                }
            }
            finally
            {
                _connectLock.Release();
            }
        }
    }

    private static DateTimeOffset CreatedAt(NatsObjectInfo meta)
        => meta.Headers is { } headers && headers.TryGetValue(TimestampHeader, out string[]? values) && values.Length > 0
            && ReplicaTimestamp.TryParse(values[0], out DateTimeOffset time)
            ? time
            : meta.Modified;

    private static async ValueTask DisposeQuietly(NatsWire? connection)
    {
        if (connection is not null)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static async Task SkipAsync(Stream stream, long count, CancellationToken cancellationToken)
    {
        if (count == 0)
        {
            return;
        }
        byte[] scratch = new byte[(int)Math.Min(count, 81920)];
        while (count > 0)
        {
            int n = await stream.ReadAsync(scratch.AsMemory(0, (int)Math.Min(count, scratch.Length)), cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                return;
            }
            count -= n;
        }
    }

    /// <summary>NATS and socket failures, and a timeout (a cancellation the caller did not ask for).</summary>
    private static bool IsNatsError(Exception e, CancellationToken cancellationToken)
        => e is NatsException or SocketException or IOException or TimeoutException or ObjectDisposedException or AuthenticationException
            || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested);

    /// <summary>One line naming the operation, the server, bucket and object, and the cause, with a hint; no credential.</summary>
    private ReplicaStorageException Failure(string operation, string name, Exception error, TimeSpan? waited = null)
    {
        string all = Messages(error);
        (string detail, string? hint) = error switch
        {
            ReplicaStorageException r => (r.Message, r.Hint),
            NatsApiException { ErrorCode: NatsApiException.StreamNotFound } => ($"bucket \"{Bucket}\" not found",
                $"create it first (nats object add {Bucket}); litestream does not create buckets, as upstream"),
            NatsNoRespondersException => ("no JetStream on the server (no responders)", "start nats-server with -js, or enable JetStream for this account"),
            _ when all.Contains("authorization violation", StringComparison.OrdinalIgnoreCase)
                || all.Contains("authentication", StringComparison.OrdinalIgnoreCase)
                || all.Contains("user authentication", StringComparison.OrdinalIgnoreCase) => ("authorization refused by the server",
                "check username and password, token, nkey, creds or jwt and seed"),
            _ when all.Contains("permissions violation", StringComparison.OrdinalIgnoreCase) => ("permission denied",
                $"check that the user may use JetStream and bucket \"{Bucket}\""),
            TimeoutException or OperationCanceledException => ($"no answer within {GoDuration.Format(waited ?? _requestTimeout)}",
                "check that the server is reachable and answering, with JetStream enabled"),
            _ when all.Contains("timed out", StringComparison.OrdinalIgnoreCase) => ($"no answer within {GoDuration.Format(_connectTimeout)}",
                "check host and port (the replica URL), that it is a NATS server, and the network"),
            _ when error is SocketException || all.Contains("connect", StringComparison.OrdinalIgnoreCase) || all.Contains("connection refused", StringComparison.OrdinalIgnoreCase)
                => (FirstLine(all), "check host and port (the replica URL) and the network"),
            _ => (FirstLine(all), null),
        };
        string message = Redaction.Apply($"nats: {operation} {Location(name)}: {detail}");
        string full = error.ToString();
        return new ReplicaStorageException(message, hint is null ? null : Redaction.Apply(hint), Redaction.Apply(full) != full ? null : error);
    }

    /// <summary>The messages of an exception and its inner ones, joined (the NATS client wraps the cause).</summary>
    private static string Messages(Exception error)
    {
        var text = new System.Text.StringBuilder(FirstLine(error.Message));
        for (Exception? inner = error.InnerException; inner is not null; inner = inner.InnerException)
        {
            text.Append(": ").Append(FirstLine(inner.Message));
        }
        return text.ToString();
    }

    private string Join(string relative) => Path.Length == 0 ? relative : Path + "/" + relative;

    private static string FirstLine(string text)
    {
        int end = text.IndexOfAny(['\r', '\n']);
        return (end < 0 ? text : text[..end]).Trim();
    }

    private static string? NonEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
