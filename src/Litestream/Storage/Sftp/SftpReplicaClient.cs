using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Sockets;
using Litestream.Internal;
using Litestream.Ltx;
using Renci.SshNet;
using Renci.SshNet.Common;
using Renci.SshNet.Sftp;

namespace Litestream.Storage.Sftp;

/// <summary>
/// A replica in a directory on an SFTP server (upstream <c>sftp.ReplicaClient</c>): files at
/// <c>&lt;path&gt;/ltx/&lt;level&gt;/&lt;min&gt;-&lt;max&gt;.ltx</c>, each with its modification time set to the LTX header
/// timestamp (to the second: SFTP v3 keeps no fraction). An upload goes to a temporary name in the same directory
/// and is renamed over the final name (OpenSSH's atomic posix-rename): readers never see a partial file. One SSH
/// connection serves every request; a lost one is reopened by the next request. The connect and handshake, and
/// each SFTP request, have bounded times.
/// </summary>
[ReplicaBackend("sftp")]
public sealed partial class SftpReplicaClient : IReplicaClient
{
    /// <summary>The SSH port when <c>host</c> names none.</summary>
    public const int DefaultPort = 22;
    /// <summary>Default retries of a request whose connection was lost (after reconnecting).</summary>
    public const int DefaultMaxRetries = 3;
    /// <summary>Deletes (and header reads of a listing with metadata) in flight at once.</summary>
    public const int RequestConcurrency = 8;
    /// <summary>The largest private key file read from <c>key-path</c>.</summary>
    private const int MaxKeyFileSize = 1024 * 1024;

    private readonly SemaphoreSlim _connectLock = new(1, 1);
    private readonly SftpHostKey? _hostKey;
    private readonly bool _ignoreHostKey;
    private readonly TimeSpan _connectTimeout;
    private readonly TimeSpan _requestTimeout;
    private readonly TimeSpan _idleTimeout;
    private readonly int _maxRetries;
    private readonly bool _concurrentWrites;
    // Level directories known to exist, so most uploads skip the mkdir round trips.
    private readonly ConcurrentDictionary<string, bool> _madeDirectories = new(StringComparer.Ordinal);
    private SftpClient? _sftp;
    private bool _disposed;

    /// <summary>Creates a client; nothing is sent until the first operation.</summary>
    /// <exception cref="ArgumentException">No host or user, no password or key-path, a bad port or a malformed host-key.</exception>
    public SftpReplicaClient(SftpReplicaSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        Settings = settings;
        (Host, Port) = ReplicaHost.Split(NonEmpty(settings.Host) ?? throw new ArgumentException("sftp replica requires host"), DefaultPort, "sftp");
        User = NonEmpty(settings.User) ?? throw new ArgumentException("sftp replica requires user");
        if (NonEmpty(settings.Password) is null && NonEmpty(settings.KeyPath) is null)
        {
            throw new ArgumentException("sftp replica requires password or key-path");
        }
        Redaction.Register(settings.Password);
        string path = settings.Path ?? "";
        Path = path.Length > 1 ? path.TrimEnd('/') : path is "." ? "" : path;
        _hostKey = NonEmpty(settings.HostKey) is { } hostKey ? SftpHostKey.Parse(hostKey) : null;
        _ignoreHostKey = settings.InsecureIgnoreHostKey ?? false;
        // The environment (or the defaults) bound every stall; explicit replica limits win.
        StorageTimeouts timeouts = StorageTimeouts.FromEnvironment();
        _connectTimeout = settings.ConnectTimeout ?? timeouts.Connect;
        _requestTimeout = settings.RequestTimeout ?? timeouts.Response;
        _idleTimeout = timeouts.Idle;
        _maxRetries = settings.MaxRetries ?? DefaultMaxRetries;
        _concurrentWrites = settings.ConcurrentWrites ?? true;
    }

    /// <summary>Creates the client from settings (used by <see cref="ReplicaClientFactory"/>).</summary>
    public static IReplicaClient Create(SftpReplicaSettings settings) => new SftpReplicaClient(settings);

    /// <summary>The settings this client was made with (ToString prints no credential).</summary>
    public SftpReplicaSettings Settings { get; }

    /// <inheritdoc />
    public string Type => "sftp";

    /// <summary>The server's host name or address.</summary>
    public string Host { get; }

    /// <summary>The server's SSH port.</summary>
    public int Port { get; }

    /// <summary>The user logged in as.</summary>
    public string User { get; }

    /// <summary>The replica's directory on the server: absolute, or relative to the user's home ("" for the home itself).</summary>
    public string Path { get; }

    /// <summary>Directory of one level, e.g. <c>/backups/db/ltx/9</c>.</summary>
    public string LevelDirectory(int level) => Join(Path, $"ltx/{level.ToString(CultureInfo.InvariantCulture)}");

    /// <summary>Path of one LTX file.</summary>
    public string LtxPath(int level, Txid minTxid, Txid maxTxid) => LevelDirectory(level) + "/" + LtxFileName.Format(minTxid, maxTxid);

    /// <summary>Where <paramref name="path"/> is, for messages: <c>sftp://user@host:port/abs/path</c>, a relative path under <c>/~/</c>.</summary>
    public string Location(string path) => $"sftp://{User}@{HostPort}{(path.StartsWith('/') ? "" : "/~/")}{path}";

    private string HostPort => ReplicaHost.Format(Host, Port);

    /// <summary>Connects and logs in (the first call; later calls do nothing while the connection lives).</summary>
    public async ValueTask InitAsync(CancellationToken cancellationToken) => await ConnectAsync(cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public IAsyncEnumerable<LtxFileInfo> ListLtxFilesAsync(int level, Txid seek, bool useMetadata, CancellationToken cancellationToken)
    {
        // The modification time is the header time to the second; with useMetadata each header is read for the exact time.
        string dir = LevelDirectory(level);
        return DirectoryListing.ListAsync(this, token => RunAsync("list", dir, async (sftp, t) =>
        {
            var found = new List<LtxFileInfo>();
            try
            {
                await foreach (ISftpFile entry in sftp.ListDirectoryAsync(dir, t).ConfigureAwait(false))
                {
                    if (entry.IsRegularFile && LtxFileName.TryParse(entry.Name, out Txid min, out Txid max) && min >= seek)
                    {
                        found.Add(new LtxFileInfo(level, min, max, entry.Length, new DateTimeOffset(entry.LastWriteTimeUtc, TimeSpan.Zero)));
                    }
                }
            }
            catch (SftpPathNotFoundException)
            {
                // A level never written is empty.
            }
            return found;
        }, token).AsTask(), useMetadata, RequestConcurrency, cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask<Stream> OpenLtxFileAsync(int level, Txid minTxid, Txid maxTxid, long offset, long size, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        return await OpenPathAsync(LtxPath(level, minTxid, maxTxid), offset, size, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Opens <paramref name="size"/> bytes (0: to the end) of one file from <paramref name="offset"/>.</summary>
    private async ValueTask<Stream> OpenPathAsync(string path, long offset, long size, CancellationToken cancellationToken)
    {
        SftpFileStream stream = await RunAsync("get", path, async (sftp, token) =>
        {
            try
            {
                return await sftp.OpenAsync(path, FileMode.Open, FileAccess.Read, token).ConfigureAwait(false);
            }
            catch (SftpPathNotFoundException e)
            {
                throw new ReplicaFileNotFoundException(Location(path), e);
            }
        }, cancellationToken).ConfigureAwait(false);
        if (offset > 0)
        {
            stream.Seek(offset, SeekOrigin.Begin);
        }
        // SSH.NET bounds a blocking read by OperationTimeout, an asynchronous one by nothing: the guard bounds both.
        var guarded = new StallGuardStream(stream, _idleTimeout, $"sftp: get {Location(path)}", CancellationToken.None);
        return size > 0 ? new BoundedStream(guarded, size) : guarded;
    }

    /// <inheritdoc />
    public async ValueTask<LtxFileInfo> WriteLtxFileAsync(int level, Txid minTxid, Txid maxTxid, Stream data, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(data);
        string path = LtxPath(level, minTxid, maxTxid);
        string dir = LevelDirectory(level);
        (HeaderedStream body, DateTimeOffset createdAt) = await HeaderedStream.ReadLtxHeaderAsync(data, cancellationToken).ConfigureAwait(false);
        // Beside the final name, so the rename stays in one directory (and one file system); never an LTX name.
        string temp = $"{path}.{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}.{Guid.NewGuid():N}.tmp";
        using var disposeBody = body;
        await RunAsync("mkdir", dir, async (sftp, token) =>
        {
            await MakeDirectoriesAsync(sftp, dir, token).ConfigureAwait(false);
            return true;
        }, cancellationToken).ConfigureAwait(false);
        SftpClient sftp = await ConnectAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Not retried here: the source cannot be read twice. The caller retries the whole file.
            await UploadAsync(sftp, body, temp, cancellationToken).ConfigureAwait(false);
            await WithTimeoutAsync(token => Task.Run(() => sftp.SetLastWriteTimeUtc(temp, createdAt.UtcDateTime), token), cancellationToken).ConfigureAwait(false);
            await WithTimeoutAsync(token => RenameOverAsync(sftp, temp, path, token), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            await TryDeleteAsync(sftp, temp).ConfigureAwait(false);
            if (!IsSshError(e, cancellationToken))
            {
                throw;
            }
            Reset(sftp, e);
            throw Failure("put", path, e);
        }
        return new LtxFileInfo(level, minTxid, maxTxid, body.Count, createdAt);
    }

    /// <inheritdoc />
    public async ValueTask DeleteLtxFilesAsync(IReadOnlyList<LtxFileInfo> files, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(files);
        var paths = new List<string>(files.Count);
        foreach (LtxFileInfo file in files)
        {
            paths.Add(LtxPath(file.Level, file.MinTxid, file.MaxTxid));
        }
        await DeleteFilesAsync(paths, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask DeleteAllAsync(CancellationToken cancellationToken)
    {
        // Only this replica's files: its directory, or the ltx/ tree when it is the user's home.
        string root = Path.Length == 0 ? "ltx" : Path;
        (List<WalkedFile> files, List<string> directories) = await WalkAsync(root, cancellationToken).ConfigureAwait(false);
        await DeleteFilesAsync([.. files.Select(static f => f.Path)], cancellationToken).ConfigureAwait(false);
        _madeDirectories.Clear();
        // Deepest first: a directory goes once it is empty.
        for (int i = directories.Count - 1; i >= 0; i--)
        {
            string dir = directories[i];
            await RunAsync("rmdir", dir, async (sftp, token) =>
            {
                try
                {
                    await sftp.DeleteDirectoryAsync(dir, token).ConfigureAwait(false);
                }
                catch (SftpPathNotFoundException)
                {
                    // already gone
                }
                return true;
            }, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _connectLock.WaitAsync().ConfigureAwait(false);
        try
        {
            _disposed = true;
            _sftp?.Dispose();
            _sftp = null;
        }
        finally
        {
            _connectLock.Release();
        }
    }

    /// <summary>The replica as a URL, e.g. <c>sftp://user@host:22/backups/db</c> (never with a password).</summary>
    public override string ToString() => Location(Path);

    /// <summary>The open connection, or a new one: TCP connect, SSH handshake (host key checked), login, SFTP session.</summary>
    private async ValueTask<SftpClient> ConnectAsync(CancellationToken cancellationToken)
    {
        SftpClient? current = Volatile.Read(ref _sftp);
        if (current is { IsConnected: true })
        {
            return current;
        }
        await _connectLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_sftp is { IsConnected: true })
            {
                return _sftp;
            }
            _sftp?.Dispose();
            _sftp = null;
            var info = new ConnectionInfo(Host, Port, User, LoginMethods()) { Timeout = _connectTimeout };
            if (_hostKey is not null)
            {
                foreach (string algorithm in info.HostKeyAlgorithms.Keys.Where(a => !_hostKey.Allows(a)).ToList())
                {
                    info.HostKeyAlgorithms.Remove(algorithm);
                }
            }
            var client = new SftpClient(info) { OperationTimeout = _requestTimeout };
            byte[]? presented = null;
            client.HostKeyReceived += (_, e) =>
            {
                e.CanTrust = _hostKey is null ? _ignoreHostKey : e.HostKey.AsSpan().SequenceEqual(_hostKey.Blob);
                if (!e.CanTrust)
                {
                    presented = e.HostKey;
                }
            };
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_connectTimeout + _connectTimeout);
            try
            {
                await client.ConnectAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (IsSshError(e, cancellationToken))
            {
                client.Dispose();
                throw presented is not null ? HostKeyRefused(presented, e)
                    : e is OperationCanceledException ? Failure("connect", Path, new SshOperationTimeoutException($"no answer within {GoDuration.Format(_connectTimeout + _connectTimeout)}"))
                    : Failure("connect", Path, e);
            }
            catch
            {
                client.Dispose();
                throw;
            }
            _sftp = client;
            return client;
        }
        finally
        {
            _connectLock.Release();
        }
    }

    /// <summary>Password and/or private key, as upstream offers them; the key file is read on each connect.</summary>
    private AuthenticationMethod[] LoginMethods()
    {
        var methods = new List<AuthenticationMethod>();
        if (NonEmpty(Settings.KeyPath) is { } keyPath)
        {
            methods.Add(new PrivateKeyAuthenticationMethod(User, ReadKey(keyPath)));
        }
        if (NonEmpty(Settings.Password) is { } password)
        {
            methods.Add(new PasswordAuthenticationMethod(User, password));
            // Servers that ask for a password through keyboard-interactive (PAM) get the same password.
            var interactive = new KeyboardInteractiveAuthenticationMethod(User);
            interactive.AuthenticationPrompt += (_, e) =>
            {
                foreach (AuthenticationPrompt prompt in e.Prompts)
                {
                    prompt.Response = password;
                }
            };
            methods.Add(interactive);
        }
        return [.. methods];
    }

    private PrivateKeyFile ReadKey(string keyPath)
    {
        string hint = "key-path must name an unencrypted OpenSSH, PEM or PuTTY private key file this process can read";
        try
        {
            using var file = new FileStream(keyPath, FileMode.Open, FileAccess.Read);
            if (file.Length > MaxKeyFileSize)
            {
                throw new ReplicaStorageException($"sftp: key-path {keyPath}: larger than {MaxKeyFileSize / 1024} KiB, not a private key", hint);
            }
            var copy = new MemoryStream();
            file.CopyTo(copy);
            copy.Position = 0;
            return new PrivateKeyFile(copy);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ReplicaStorageException($"sftp: key-path {keyPath}: cannot read it: {FirstLine(e.Message)}", hint);
        }
        catch (SshPassPhraseNullOrEmptyException)
        {
            throw new ReplicaStorageException($"sftp: key-path {keyPath}: the key is encrypted with a passphrase", hint);
        }
        catch (Exception e) when (e is SshException or ArgumentException or FormatException or InvalidOperationException or NotSupportedException)
        {
            throw new ReplicaStorageException($"sftp: key-path {keyPath}: not a private key this build can read: {FirstLine(e.Message)}", hint);
        }
    }

    /// <summary>
    /// Runs one replayable request on the connection, bounded by the request timeout; a lost connection is
    /// reopened and the request tried again (up to MaxRetries), any other failure is a <see cref="ReplicaStorageException"/>.
    /// </summary>
    private async ValueTask<T> RunAsync<T>(string operation, string path, Func<SftpClient, CancellationToken, Task<T>> request, CancellationToken cancellationToken)
    {
        for (int attempt = 0; ; attempt++)
        {
            SftpClient sftp = await ConnectAsync(cancellationToken).ConfigureAwait(false);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_requestTimeout);
            try
            {
                return await request(sftp, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not ReplicaFileNotFoundException && IsSshError(e, cancellationToken))
            {
                bool lost = Reset(sftp, e);
                if (!lost || attempt >= _maxRetries)
                {
                    throw Failure(operation, path, e);
                }
                await Task.Delay(TimeSpan.FromMilliseconds(200 << Math.Min(attempt, 5)), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>One request bounded by the request timeout; its expiry is an <see cref="SshOperationTimeoutException"/>.</summary>
    private async Task WithTimeoutAsync(Func<CancellationToken, Task> request, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_requestTimeout);
        try
        {
            await request(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new SshOperationTimeoutException($"no answer within {GoDuration.Format(_requestTimeout)}", e);
        }
    }

    /// <summary>
    /// Copies <paramref name="body"/> to <paramref name="temp"/>: pipelined writes (several in flight, upstream's
    /// concurrent-writes) or one write at a time. The upload fails when no write is acknowledged for the request timeout.
    /// </summary>
    private async Task UploadAsync(SftpClient sftp, Stream body, string temp, CancellationToken cancellationToken)
    {
        using var stall = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        stall.CancelAfter(_requestTimeout);
        try
        {
            if (_concurrentWrites)
            {
                await sftp.UploadFileAsync(body, temp, canOverride: true, new Progress(stall, _requestTimeout), stall.Token).ConfigureAwait(false);
                return;
            }
            SftpFileStream file = await sftp.OpenAsync(temp, FileMode.Create, FileAccess.Write, stall.Token).ConfigureAwait(false);
            await using (file.ConfigureAwait(false))
            {
                byte[] buffer = new byte[sftp.BufferSize];
                int n;
                while ((n = await body.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                {
                    await file.WriteAsync(buffer.AsMemory(0, n), stall.Token).ConfigureAwait(false);
                    stall.CancelAfter(_requestTimeout);
                }
                await file.FlushAsync(stall.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new SshOperationTimeoutException($"no write acknowledged for {GoDuration.Format(_requestTimeout)}", e);
        }
    }

    /// <summary>Restarts the upload's stall timer each time the server acknowledges a write.</summary>
    private sealed class Progress(CancellationTokenSource stall, TimeSpan timeout) : IProgress<UploadFileProgressReport>
    {
        public void Report(UploadFileProgressReport value) => stall.CancelAfter(timeout);
    }

    /// <summary>
    /// Renames <paramref name="temp"/> over <paramref name="path"/> in one step with OpenSSH's posix-rename; a server
    /// without it (plain SFTP v3 rename refuses an existing target) gets the target removed first.
    /// </summary>
    private static async Task RenameOverAsync(SftpClient sftp, string temp, string path, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Run(() => sftp.RenameFile(temp, path, isPosix: true), cancellationToken).ConfigureAwait(false);
        }
        catch (NotSupportedException)
        {
            try
            {
                await sftp.DeleteFileAsync(path, cancellationToken).ConfigureAwait(false);
            }
            catch (SftpPathNotFoundException)
            {
                // nothing to replace
            }
            await sftp.RenameFileAsync(temp, path, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>mkdir -p of a level directory: one request when only the last part is missing, once while it is known to exist.</summary>
    private async Task MakeDirectoriesAsync(SftpClient sftp, string dir, CancellationToken cancellationToken)
    {
        if (_madeDirectories.ContainsKey(dir))
        {
            return;
        }
        if (!await TryMakeDirectoryAsync(sftp, dir, cancellationToken).ConfigureAwait(false))
        {
            int slash = dir.LastIndexOf('/');
            if (slash < 0 || (slash == 0 && dir.Length == 1))
            {
                throw new SftpPathNotFoundException($"cannot create {dir}");
            }
            await MakeDirectoriesAsync(sftp, slash == 0 ? "/" : dir[..slash], cancellationToken).ConfigureAwait(false);
            if (!await TryMakeDirectoryAsync(sftp, dir, cancellationToken).ConfigureAwait(false))
            {
                throw new SftpPathNotFoundException($"cannot create {dir}");
            }
        }
        _madeDirectories[dir] = true;
    }

    /// <summary>Creates one directory; true when it exists now, false when its parent is missing.</summary>
    private static async Task<bool> TryMakeDirectoryAsync(SftpClient sftp, string dir, CancellationToken cancellationToken)
    {
        try
        {
            await sftp.CreateDirectoryAsync(dir, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (SftpPathNotFoundException)
        {
            return false;
        }
        catch (SftpException)
        {
            // SFTP v3 answers only "failure" for an existing directory.
            if (!await IsDirectoryAsync(sftp, dir, cancellationToken).ConfigureAwait(false))
            {
                throw;
            }
            return true;
        }
    }

    private static async Task<bool> IsDirectoryAsync(SftpClient sftp, string path, CancellationToken cancellationToken)
    {
        try
        {
            return (await sftp.GetAttributesAsync(path, cancellationToken).ConfigureAwait(false)).IsDirectory;
        }
        catch (SftpPathNotFoundException)
        {
            return false;
        }
        catch (SftpPermissionDeniedException)
        {
            return false;
        }
    }

    /// <summary>A regular file found by <see cref="WalkAsync(string, CancellationToken)"/>.</summary>
    private readonly record struct WalkedFile(string Path, bool IsRegularFile, long Length, DateTime LastWriteTimeUtc);

    /// <summary>Every file and directory under <paramref name="root"/> (directories parents first), in one retried request.</summary>
    private async ValueTask<(List<WalkedFile> Files, List<string> Directories)> WalkAsync(string root, CancellationToken cancellationToken)
    {
        var files = new List<WalkedFile>();
        var directories = new List<string>();
        await RunAsync("list", root, async (sftp, token) =>
        {
            files.Clear();
            directories.Clear();
            await WalkAsync(sftp, root, files, directories, token).ConfigureAwait(false);
            return true;
        }, cancellationToken).ConfigureAwait(false);
        return (files, directories);
    }

    /// <summary>Every file and directory under <paramref name="dir"/> (directories parents first); a missing one holds nothing. Links are not followed.</summary>
    private static async Task WalkAsync(SftpClient sftp, string dir, List<WalkedFile> files, List<string> directories, CancellationToken cancellationToken)
    {
        var children = new List<string>();
        try
        {
            await foreach (ISftpFile entry in sftp.ListDirectoryAsync(dir, cancellationToken).ConfigureAwait(false))
            {
                if (entry.Name is "." or "..")
                {
                    continue;
                }
                string path = dir + "/" + entry.Name;
                if (entry.IsDirectory)
                {
                    children.Add(path);
                }
                else
                {
                    files.Add(new WalkedFile(path, entry.IsRegularFile, entry.Length, entry.LastWriteTimeUtc));
                }
            }
        }
        catch (SftpPathNotFoundException)
        {
            return;
        }
        directories.Add(dir);
        foreach (string child in children)
        {
            await WalkAsync(sftp, child, files, directories, cancellationToken).ConfigureAwait(false);
        }
    }

    private async ValueTask DeleteFilesAsync(List<string> paths, CancellationToken cancellationToken)
    {
        var options = new ParallelOptions { MaxDegreeOfParallelism = RequestConcurrency, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(paths, options, async (path, token) => await RunAsync("delete", path, async (sftp, t) =>
        {
            try
            {
                await sftp.DeleteFileAsync(path, t).ConfigureAwait(false);
            }
            catch (SftpPathNotFoundException)
            {
                // already gone: deletes are idempotent
            }
            return true;
        }, token).ConfigureAwait(false)).ConfigureAwait(false);
    }

    private async ValueTask TryDeleteAsync(SftpClient sftp, string path)
    {
        if (!sftp.IsConnected)
        {
            return;
        }
        using var timeout = new CancellationTokenSource(_requestTimeout);
        try
        {
            await sftp.DeleteFileAsync(path, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (IsSshError(e, timeout.Token) || e is OperationCanceledException)
        {
            // best effort: a stray .tmp is never listed
        }
    }

    /// <summary>Drops <paramref name="sftp"/> when <paramref name="error"/> says its connection is gone; true when it did.</summary>
    private bool Reset(SftpClient sftp, Exception error)
    {
        bool lost = error is SshConnectionException or SocketException or ObjectDisposedException or SshOperationTimeoutException or OperationCanceledException
            || !sftp.IsConnected;
        if (lost && Interlocked.CompareExchange(ref _sftp, null, sftp) == sftp)
        {
            _madeDirectories.Clear();
            sftp.Dispose();
        }
        return lost;
    }

    /// <summary>SSH and SFTP failures, socket errors, and the request timeout (a cancellation the caller did not ask for).</summary>
    private static bool IsSshError(Exception e, CancellationToken cancellationToken)
        => e is SshException or SocketException or IOException or ObjectDisposedException or ProxyException
            || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested);

    /// <summary>The server's key is not host-key, or no host-key is set: refused, with the presented key in the hint.</summary>
    private ReplicaStorageException HostKeyRefused(byte[] presented, Exception error)
    {
        string fingerprint = SftpHostKey.FingerprintOf(presented);
        return _hostKey is null
            ? new(Redaction.Apply($"sftp: connect {Location(Path)}: unknown host key {fingerprint}, and no host-key is set"),
                $"check that fingerprint against the server's (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), then set host-key: \"{SftpHostKey.LineOf(presented)}\" (or insecure-ignore-host-key: true to accept any key, as upstream does)",
                error)
            : new(Redaction.Apply($"sftp: connect {Location(Path)}: host key mismatch: the server presented {fingerprint}, host-key is {_hostKey.Type} {_hostKey.Fingerprint}"),
                "if the server's key was changed on purpose, set host-key to its new public key (ssh-keyscan prints it); otherwise something is answering in the server's place",
                error);
    }

    /// <summary>One line naming the operation, the server and path, and the cause, with a hint; no credential.</summary>
    private ReplicaStorageException Failure(string operation, string path, Exception error)
    {
        (string detail, string? hint) = error switch
        {
            ReplicaStorageException r => (r.Message, r.Hint),
            SshAuthenticationException e => ($"login refused: {FirstLine(e.Message)}",
                $"check user \"{User}\", password and key-path (the key's .pub must be in the server's authorized_keys)"),
            SftpPermissionDeniedException => ("permission denied", $"check that user \"{User}\" may write {path} on the server"),
            SshOperationTimeoutException or OperationCanceledException => ($"no answer within {GoDuration.Format(_requestTimeout)}",
                "check that the server is reachable and answering"),
            SocketException e => (FirstLine(e.Message), "check host and port (host, or the replica URL) and the network"),
            SshConnectionException e => ($"connection lost: {FirstLine(e.Message)}", "check the server's sshd log and the network"),
            SftpPathNotFoundException => ("no such file or directory", $"check that the path exists on the server and user \"{User}\" may create it"),
            _ => (FirstLine(error.Message) + (error.InnerException is { } inner ? ": " + FirstLine(inner.Message) : ""), null),
        };
        string message = Redaction.Apply($"sftp: {operation} {Location(path)}: {detail}");
        string full = error.ToString();
        return new ReplicaStorageException(message, hint, Redaction.Apply(full) != full ? null : error);
    }

    private static string Join(string root, string relative) => root.Length == 0 ? relative : root == "/" ? "/" + relative : root + "/" + relative;

    private static string FirstLine(string text)
    {
        int end = text.IndexOfAny(['\r', '\n']);
        return (end < 0 ? text : text[..end]).Trim();
    }

    private static string? NonEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
