using Microsoft.Data.Sqlite;
using Microsoft.Win32.SafeHandles;

namespace Litestream.Restore;

/// <summary>
/// The end of the restore pipeline: the database being built in <c>&lt;output&gt;.tmp</c> beside the output
/// (<see cref="RestoreOutput"/> says what may stand there), written by the appliers as positional writes and page
/// runs; then SQLite's check, fsync and the rename into place (<see cref="Commit"/>). Disposed without a commit
/// — any failure — it deletes the temp file and the SQLite files beside it: a failed restore leaves nothing behind.
/// </summary>
internal sealed class RestoreTarget : IDisposable
{
    private readonly bool _force;
    private readonly bool _inPlace;
    private FileStream? _file;
    private readonly SafeFileHandle? _live;
    private PageRunWriter? _pages;
    private bool _synced;
    private bool _committed;

    private RestoreTarget(string output, bool force)
    {
        OutputPath = output;
        TempPath = output + ".tmp";
        _force = force;
    }

    private RestoreTarget(SafeFileHandle live)
    {
        OutputPath = TempPath = "";
        _live = live;
        _inPlace = true;
    }

    /// <summary>The absolute output path.</summary>
    public string OutputPath { get; }

    /// <summary>Where the database is built: <c>&lt;output&gt;.tmp</c>.</summary>
    public string TempPath { get; }

    /// <summary>
    /// Checks the output (<see cref="RestoreOutput.Check"/>), creates its directory and clears an earlier
    /// restore's temp file. Nothing is fetched before this passes.
    /// </summary>
    /// <exception cref="OutputExistsException">The output, or a SQLite file beside it, exists and <paramref name="force"/> is false.</exception>
    public static RestoreTarget Create(string output, bool force)
    {
        RestoreOutput.Check(output, force);
        string? dir = Path.GetDirectoryName(output);
        if (!string.IsNullOrEmpty(dir))
        {
            Directory.CreateDirectory(dir);
        }
        var target = new RestoreTarget(output, force);
        RestoreOutput.DeleteTemp(target.TempPath);
        return target;
    }

    /// <summary>
    /// A copy that is kept current in place: follow mode's database under SQLite's exclusive lock (<see cref="Follower"/>),
    /// the VFS's hydrated file while no read is pinned. No temp file and no rename; <see cref="Commit"/> only writes out
    /// the page runs, and the caller, who owns the file, fsyncs and closes it.
    /// </summary>
    public static RestoreTarget InPlace(SafeFileHandle live) => new(live);

    /// <summary>The temp file, created on first use, for positional writes.</summary>
    public SafeFileHandle Handle => _live ?? Temp.SafeFileHandle;

    private FileStream Temp => _file ??= new FileStream(TempPath, FileMode.Create, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.None);

    /// <summary>The temp file's page runs (1 MiB), shared by every streamed file of the restore.</summary>
    public PageRunWriter Pages(uint pageSize) => _pages ??= new PageRunWriter(Handle, pageSize);

    /// <summary>Sizes the database to <paramref name="bytes"/> (a file's Commit × page size).</summary>
    public void Resize(long bytes)
    {
        if (_live is not null)
        {
            RandomAccess.SetLength(_live, bytes);
            return;
        }
        Temp.SetLength(bytes);
    }

    /// <summary>
    /// fsyncs what the appliers wrote while SQLite's <paramref name="check"/> reads it (the check is CPU and the
    /// fsync the disk's, so the two overlap: both must succeed before anything else happens), fsyncs a file SQLite
    /// wrote itself (a v0.3 restore's checkpoints), and renames the result into place (<see cref="RestoreOutput.Commit"/>).
    /// </summary>
    public void Commit(IntegrityCheck check, CancellationToken cancellationToken)
    {
        if (_inPlace)
        {
            _pages?.Flush();
            return;
        }
        Task syncing = StartSync();
        try
        {
            if (check != IntegrityCheck.None)
            {
                CheckIntegrity(TempPath, check, cancellationToken);
            }
        }
        catch
        {
            // The file stays open until its fsync ends, so Dispose can delete it; the check's failure is the one told.
            Task.WaitAny(syncing);
            throw;
        }
        syncing.GetAwaiter().GetResult();
        if (!_synced)
        {
            using var file = new FileStream(TempPath, FileMode.Open, FileAccess.ReadWrite);
            file.Flush(flushToDisk: true);
            _synced = true;
        }
        // A signal that arrived during the last step still means "not restored".
        cancellationToken.ThrowIfCancellationRequested();
        RestoreOutput.Commit(TempPath, OutputPath, _force);
        _committed = true;
    }

    /// <summary>
    /// Writes out the page runs, then fsyncs and closes the temp file the appliers wrote on a pool thread (SQLite opens
    /// the file meanwhile with its own descriptor and only reads). Completed at once when the appliers wrote nothing.
    /// </summary>
    private Task StartSync()
    {
        if (_file is not { } file)
        {
            return Task.CompletedTask;
        }
        _pages?.Flush();
        _file = null;
        return Task.Run(() =>
        {
            using (file)
            {
                file.Flush(flushToDisk: true);
            }
            _synced = true;
        }, CancellationToken.None);
    }

    /// <summary>Closes the temp file; deletes it unless <see cref="Commit"/> renamed it into place.</summary>
    public void Dispose()
    {
        _pages?.Dispose();
        _pages = null;
        if (_inPlace)
        {
            return;
        }
        _file?.Dispose();
        _file = null;
        if (!_committed)
        {
            RestoreOutput.DeleteTemp(TempPath);
        }
    }

    /// <summary>
    /// Runs SQLite's check on the restored temp file. Cancellation interrupts it (<c>sqlite3_interrupt</c>):
    /// a check of a large database takes seconds, and a signal must not wait for it.
    /// </summary>
    private static void CheckIntegrity(string path, IntegrityCheck check, CancellationToken cancellationToken)
    {
        var builder = new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWrite, Pooling = false };
        using var connection = new SqliteConnection(builder.ToString());
        connection.Open();
        using SqliteCommand command = connection.CreateCommand();
        // Not through SQLite's mmap, although it saves ~0.85 s of CPU a GB: every mapped page the check touches stays
        // in this process's RSS until the connection closes, so a restore's peak would grow with the database (32 MB
        // restored: 20 -> 52 MB RSS), and restore memory stays flat with size (issue 22 goal 4).
        command.CommandText = check == IntegrityCheck.Full ? "PRAGMA integrity_check" : "PRAGMA quick_check";
        string result;
        using (cancellationToken.Register(() => SQLitePCL.raw.sqlite3_interrupt(connection.Handle)))
        {
            try
            {
                result = Convert.ToString(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) ?? "";
            }
            catch (SqliteException e) when (cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException("integrity check interrupted", e, cancellationToken);
            }
        }
        cancellationToken.ThrowIfCancellationRequested();
        if (result != "ok")
        {
            throw new InvalidDataException($"restored database fails {(check == IntegrityCheck.Full ? "integrity_check" : "quick_check")}: {result}");
        }
        // Leave no -wal/-shm beside the result: the check only read.
        using SqliteCommand checkpoint = connection.CreateCommand();
        checkpoint.CommandText = "PRAGMA wal_checkpoint(TRUNCATE)";
        checkpoint.ExecuteNonQuery();
    }
}
