using System.Collections.Concurrent;
using Litestream.Aot.Config;
using Microsoft.Extensions.Logging;

namespace Litestream.Aot.Directories;

/// <summary>
/// The databases of one <c>dir:</c> entry (upstream <c>FindSQLiteDatabases</c> and <c>DirectoryMonitor</c>): files
/// whose base name matches the pattern and that start with the SQLite header, in the directory or, with
/// <c>recursive</c>, below it. Symbolic links to directories are not followed (no loops), Litestream's own meta
/// directories (<c>.NAME-litestream</c>) are not entered, an unreadable subdirectory is skipped with a WARN, and a
/// matching file that is not a database gets one WARN, not one per scan. With <c>watch</c>, <see cref="WatchAsync"/>
/// follows the tree through inotify: a database that appears is added after a short debounce, one deleted or
/// renamed away is removed, and a matching file that is still empty (SQLite has not written page 1 yet) is looked
/// at again once per monitor interval until it is a database or gone. Nothing is polled faster than that.
/// </summary>
internal sealed class DatabaseDirectory(DbConfig entry, ILogger logger)
{
    /// <summary>Upstream's debounce between a burst of file events and acting on them.</summary>
    private static readonly TimeSpan s_debounce = TimeSpan.FromMilliseconds(250);

    private readonly string _root = entry.Dir!;
    private readonly GlobPattern _pattern = entry.Glob!;
    private readonly HashSet<string> _warned = new(StringComparer.Ordinal);
    private readonly HashSet<string> _empty = new(StringComparer.Ordinal);

    /// <summary>The directory.</summary>
    public string Root => _root;

    /// <summary>The <c>dir:</c> entry.</summary>
    public DbConfig Entry => entry;

    /// <summary>Logs one line through the replicate command's logger.</summary>
    public void Log(LogLevel level, string message) => logger.Log(level, default, message, null, static (s, _) => s);

    /// <summary>
    /// The config's databases with each <c>dir:</c> entry replaced by the databases in it now (for <c>databases</c>,
    /// <c>status</c> and <c>restore</c> of one of them); a directory that cannot be read contributes none, with a WARN.
    /// </summary>
    public static List<DbConfig> Expand(IEnumerable<DbConfig> dbs, ILogger logger)
    {
        var expanded = new List<DbConfig>();
        foreach (DbConfig db in dbs)
        {
            if (db.Dir is null)
            {
                expanded.Add(db);
                continue;
            }
            var directory = new DatabaseDirectory(db, logger);
            try
            {
                expanded.AddRange(directory.Scan().Select(db.ForDatabase));
            }
            catch (Exception e) when (e is DirectoryNotFoundException or IOException or UnauthorizedAccessException)
            {
                directory.Log(LogLevel.Warning, $"{db.Dir}: {e.Message}");
            }
        }
        return expanded;
    }

    /// <summary>Every database in the tree now, sorted.</summary>
    /// <exception cref="DirectoryNotFoundException">The directory does not exist.</exception>
    public List<string> Scan() => Scan(_root, new HashSet<string>());

    /// <summary>
    /// The databases under <paramref name="top"/>; those in <paramref name="replicated"/> are listed without reading
    /// their header: opening and closing a database file this process replicates drops every POSIX lock the process
    /// holds on it, SQLite's SHARED lock included, and another process's last connection may then delete its WAL.
    /// </summary>
    private List<string> Scan(string top, IReadOnlySet<string> replicated)
    {
        if (!Directory.Exists(top))
        {
            throw new DirectoryNotFoundException($"directory does not exist: {top}");
        }
        var found = new List<string>();
        var folders = new Stack<string>();
        folders.Push(top);
        while (folders.Count > 0)
        {
            string folder = folders.Pop();
            IEnumerable<FileSystemInfo> children;
            try
            {
                children = new DirectoryInfo(folder).EnumerateFileSystemInfos();
                foreach (FileSystemInfo child in children)
                {
                    if (child is DirectoryInfo sub)
                    {
                        if (entry.Recursive && sub.LinkTarget is null && !IsMetaDirectory(sub.Name))
                        {
                            folders.Push(sub.FullName);
                        }
                    }
                    else if (replicated.Contains(child.FullName) || Consider(child.FullName) == SqliteFileKind.Database)
                    {
                        found.Add(child.FullName);
                    }
                }
            }
            catch (Exception e) when (e is UnauthorizedAccessException or IOException && folder != top)
            {
                Log(LogLevel.Warning, $"{folder}: skipped, cannot read the directory: {e.Message}");
            }
        }
        found.Sort(StringComparer.Ordinal);
        return found;
    }

    /// <summary>What a matching file is; logs the WARN for a non-database once per path.</summary>
    private SqliteFileKind Consider(string path)
    {
        string name = Path.GetFileName(path);
        if (!_pattern.IsMatch(name) || name.EndsWith("-wal", StringComparison.Ordinal) || name.EndsWith("-shm", StringComparison.Ordinal) || name.EndsWith("-journal", StringComparison.Ordinal))
        {
            return SqliteFileKind.Missing;
        }
        SqliteFileKind kind = SqliteHeader.Probe(path, out string? error);
        if (kind == SqliteFileKind.Empty)
        {
            _empty.Add(path);
        }
        else
        {
            _empty.Remove(path);
        }
        if (kind is SqliteFileKind.NotDatabase or SqliteFileKind.Unreadable && _warned.Add(path))
        {
            string why = error ?? "it does not start with the SQLite header";
            Log(LogLevel.Warning, $"{path}: matches pattern \"{_pattern}\" but is not a SQLite database ({why}); skipped");
        }
        return kind;
    }

    private static bool IsMetaDirectory(string name) => name.StartsWith('.') && name.EndsWith("-litestream", StringComparison.Ordinal);

    private enum Change { Appeared, Gone, Overflow }

    /// <summary>
    /// Follows the tree until cancelled, calling <paramref name="added"/> for each database that appears and
    /// <paramref name="removed"/> for each tracked one that disappears. <paramref name="tracked"/> are the databases
    /// already replicated (from <see cref="Scan()"/>). One call at a time; never throws but for cancellation.
    /// </summary>
    public async Task WatchAsync(IEnumerable<string> tracked, Func<string, Task> added, Func<string, Task> removed, CancellationToken cancellationToken)
    {
        var databases = new HashSet<string>(tracked, StringComparer.Ordinal);
        var changes = new ConcurrentQueue<(Change Change, string Path)>();
        using var signal = new SemaphoreSlim(0, 1);
        void Post(Change change, string path)
        {
            changes.Enqueue((change, path));
            try
            {
                signal.Release();
            }
            catch (SemaphoreFullException)
            {
            }
            catch (ObjectDisposedException)
            {
            }
        }
        // FileName and DirectoryName only: writes to the databases and their WALs raise nothing here.
        using var watcher = new FileSystemWatcher(_root)
        {
            IncludeSubdirectories = entry.Recursive,
            NotifyFilter = NotifyFilters.FileName | NotifyFilters.DirectoryName,
        };
        watcher.Created += (_, e) => Post(Change.Appeared, e.FullPath);
        watcher.Deleted += (_, e) => Post(Change.Gone, e.FullPath);
        watcher.Renamed += (_, e) =>
        {
            Post(Change.Gone, e.OldFullPath);
            Post(Change.Appeared, e.FullPath);
        };
        watcher.Error += (_, e) => Post(Change.Overflow, e.GetException().Message);
        watcher.EnableRaisingEvents = true;
        // What appeared between the first scan and the watch.
        await ReconcileAsync(databases, added, removed).ConfigureAwait(false);
        while (true)
        {
            bool woke = await signal.WaitAsync(_empty.Count > 0 ? entry.MonitorInterval : Timeout.InfiniteTimeSpan, cancellationToken).ConfigureAwait(false);
            if (woke)
            {
                await Task.Delay(s_debounce, cancellationToken).ConfigureAwait(false);
            }
            bool rescan = false;
            while (changes.TryDequeue(out (Change Change, string Path) change))
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (change.Change != Change.Overflow && IsInMetaDirectory(change.Path))
                {
                    continue; // the LTX files replication itself writes
                }
                switch (change.Change)
                {
                    case Change.Overflow:
                        Log(LogLevel.Warning, $"{_root}: directory watch lost events ({change.Path}); rescanning");
                        rescan = true;
                        break;
                    case Change.Gone:
                        await ForgetAsync(databases, change.Path, removed).ConfigureAwait(false);
                        break;
                    case Change.Appeared when Directory.Exists(change.Path):
                        if (entry.Recursive && new DirectoryInfo(change.Path).LinkTarget is null)
                        {
                            // Files created before the new directory was watched raised no event.
                            foreach (string path in SafeScan(change.Path, databases))
                            {
                                await AddAsync(databases, path, added).ConfigureAwait(false);
                            }
                        }
                        break;
                    case Change.Appeared:
                        if (!databases.Contains(change.Path) && Consider(change.Path) == SqliteFileKind.Database)
                        {
                            await AddAsync(databases, change.Path, added).ConfigureAwait(false);
                        }
                        break;
                }
            }
            foreach (string path in _empty.ToArray())
            {
                if (Consider(path) == SqliteFileKind.Database)
                {
                    await AddAsync(databases, path, added).ConfigureAwait(false);
                }
                else if (!File.Exists(path))
                {
                    _empty.Remove(path);
                }
            }
            if (rescan)
            {
                await ReconcileAsync(databases, added, removed).ConfigureAwait(false);
            }
        }
    }

    private bool IsInMetaDirectory(string path)
    {
        string relative = Path.GetRelativePath(_root, path);
        foreach (string part in relative.Split(Path.DirectorySeparatorChar))
        {
            if (IsMetaDirectory(part))
            {
                return true;
            }
        }
        return false;
    }

    private List<string> SafeScan(string top, IReadOnlySet<string> replicated)
    {
        try
        {
            return Scan(top, replicated);
        }
        catch (DirectoryNotFoundException)
        {
            return [];
        }
    }

    /// <summary>Adds what a full scan finds and removes what it no longer finds.</summary>
    private async Task ReconcileAsync(HashSet<string> databases, Func<string, Task> added, Func<string, Task> removed)
    {
        List<string> now = SafeScan(_root, databases);
        foreach (string path in now)
        {
            await AddAsync(databases, path, added).ConfigureAwait(false);
        }
        foreach (string path in databases.Except(now).ToArray())
        {
            if (!File.Exists(path))
            {
                await ForgetAsync(databases, path, removed).ConfigureAwait(false);
            }
        }
    }

    private static async Task AddAsync(HashSet<string> databases, string path, Func<string, Task> added)
    {
        if (databases.Add(path))
        {
            await added(path).ConfigureAwait(false);
        }
    }

    /// <summary>Removes the database at <paramref name="path"/>, or every database below it when it was a directory.</summary>
    private async Task ForgetAsync(HashSet<string> databases, string path, Func<string, Task> removed)
    {
        _warned.Remove(path);
        _empty.Remove(path);
        string below = path + Path.DirectorySeparatorChar;
        foreach (string db in databases.Where(d => d == path || d.StartsWith(below, StringComparison.Ordinal)).ToArray())
        {
            if (File.Exists(db))
            {
                continue; // renamed back, or a directory event for a path that still holds it
            }
            databases.Remove(db);
            await removed(db).ConfigureAwait(false);
        }
    }
}
